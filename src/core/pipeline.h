/*
 * pipeline.h — the pipeline graph built from a config, and its runtime.
 *
 * DESIGN: nodes are component instances; each has two output ports (main and .errors).
 * Sources run on their own threads and push batches into one bounded work queue. N worker
 * threads pop a batch and run it to completion through every transform downstream of its
 * port (a batch with several consumers is shared by reference), then push it to the sinks'
 * bounded queues. Each sink has a thread. A full sink queue stalls the workers, a full work
 * queue stalls the sources: back-pressure reaches the input and nothing is dropped.
 *
 * Shutdown: sources stop (input ended, or a stop request), the work queue closes and drains,
 * then the sink queues close, sinks write what is left, flush, and their threads end.
 */
#ifndef SL_CORE_PIPELINE_H
#define SL_CORE_PIPELINE_H

#include "base/buf.h"
#include "base/err.h"
#include "core/component.h"

#include <stdbool.h>
#include <stdint.h>

struct sl_pipeline;

struct sl_pipeline_opts {
    int workers;            /* 0: number of cores */
    uint32_t queue_batches; /* capacity of the work queue and of each sink queue; 0: 16 */
    bool once;              /* finite sources read to their end, then everything drains */
};

struct sl_config; /* core/config.h */

/* Build (but do not start) a pipeline from a loaded config: instantiates and inits each
 * component, wires inputs, checks the graph. NULL with d filled on error. */
struct sl_pipeline *sl_pipeline_new(struct sl_config *cfg, const struct sl_pipeline_opts *o,
                                    struct sl_diag *d);
void sl_pipeline_free(struct sl_pipeline *p);
/* Start all threads. */
int sl_pipeline_start(struct sl_pipeline *p);
/* Ask sources to stop (thread-safe, async: returns at once). */
void sl_pipeline_stop(struct sl_pipeline *p);
/* Wait up to timeout_ms for every thread to finish (-1: forever). True when done. */
bool sl_pipeline_wait(struct sl_pipeline *p, int timeout_ms);
/* Number of sources whose run() returned an error (after sl_pipeline_wait). */
int sl_pipeline_failed_sources(const struct sl_pipeline *p);
/* True once every source has returned. */
bool sl_pipeline_sources_done(struct sl_pipeline *p);
/* An eventfd that becomes readable when the pipeline has finished (what sl_pipeline_wait
 * waits for), so a caller can poll it with other descriptors; -1 if none could be made. */
int sl_pipeline_done_fd(const struct sl_pipeline *p);

uint32_t sl_pipeline_count(const struct sl_pipeline *p);
struct sl_component *sl_pipeline_component(const struct sl_pipeline *p, uint32_t i);
struct sl_component *sl_pipeline_find(const struct sl_pipeline *p, const char *name);
int sl_pipeline_workers(const struct sl_pipeline *p);
bool sl_pipeline_once(const struct sl_pipeline *p);
/* The config file the pipeline was built from (for plugins' diagnostics). */
const char *sl_pipeline_config_path(const struct sl_pipeline *p);

/* Write the graph as text (for `sluice check`). */
void sl_pipeline_describe(const struct sl_pipeline *p, struct sl_buf *out);
/* Prometheus text exposition of every counter and queue depth. */
void sl_pipeline_metrics_prom(const struct sl_pipeline *p, struct sl_buf *out);
/* JSON: {"components":[{name,type,kind,inputs,events_in,...}],"queues":{...}} */
void sl_pipeline_metrics_json(const struct sl_pipeline *p, struct sl_buf *out);

/* A tap sees every non-empty batch a component sends on its main output (port 0; for a sink,
 * each batch it is given to write) or its errors (port 1), on the thread that sends it (a
 * source's batch when a worker takes it), before the consumers get it. It must not keep or change
 * b, must not block, and should be cheap: the API's console samples (api/console.c) are its one
 * user. ctx belongs to the pipeline once set: free_ctx(ctx) runs in sl_pipeline_free(), after every
 * thread has ended, so the tap never outlives it. One tap per pipeline (SL_EEXIST on a second). Any
 * thread. */
typedef void (*sl_pipeline_tap_fn)(void *ctx, const struct sl_component *c, unsigned port,
                                   const struct sl_batch *b);
int sl_pipeline_set_tap(struct sl_pipeline *p, sl_pipeline_tap_fn fn, void *ctx,
                        void (*free_ctx)(void *ctx));
/* The ctx given with fn when fn is the tap installed, else NULL. Any thread. */
void *sl_pipeline_tap_ctx(const struct sl_pipeline *p, sl_pipeline_tap_fn fn);

struct sl_pipeline_totals {
    uint64_t events_in;  /* emitted by sources */
    uint64_t events_out; /* written by sinks */
    uint64_t errors;
    uint64_t dropped;
    uint64_t bytes_in;    /* read by sources */
    uint64_t bytes_total; /* the sources' input size; 0 unless every source knows its own */
    size_t work_queued, work_cap;
    size_t sink_queued, sink_cap;
};
void sl_pipeline_totals(const struct sl_pipeline *p, struct sl_pipeline_totals *t);

#endif
