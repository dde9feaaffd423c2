/*
 * pushgw.h — push the pipeline's metrics to a Prometheus push gateway (top-level
 * `push_gateway:` of the config; the JVM aggregator's -g/--prometheusPushGateway).
 *
 * Every `interval`, and once more when stopped, a thread of its own renders the metrics and
 * PUTs them to `<url>/metrics/job/<job>/instance/<instance>` (text format 0.0.4, libcurl).
 * The body holds the aggregator's names (parquet_data, parquet_writers, uploads, zmq, errors,
 * spool_bytes) and every metric of sl_pipeline_metrics_prom(). Failures are logged
 * (rate-limited) and counted; the pipeline never waits for the gateway.
 */
#ifndef SL_API_PUSHGW_H
#define SL_API_PUSHGW_H

#include "base/buf.h"
#include "base/err.h"
#include "core/config.h"
#include "core/pipeline.h"

#include <stdint.h>

struct sl_pushgw;

/* Start pushing the metrics of p as cfg says (cfg->url must be set; copied). NULL with d
 * filled when the URL is unusable. p must outlive the pusher. Main thread. */
struct sl_pushgw *sl_pushgw_start(const struct sl_config_pushgw *cfg, struct sl_pipeline *p,
                                  struct sl_diag *d);
/* Push once more (the final counts), stop the thread and free (NULL is a no-op). Call after
 * the pipeline has drained and before it is freed. Main thread. */
void sl_pushgw_stop(struct sl_pushgw *g);
/* Pushes that succeeded / failed so far. Any thread. */
uint64_t sl_pushgw_pushes(const struct sl_pushgw *g);
uint64_t sl_pushgw_failures(const struct sl_pushgw *g);

/* The push URL: base ("host:port" means http://host:port; a trailing '/' is dropped) +
 * /metrics/job/<job>/instance/<instance>. Values are percent-encoded; a value with '/' (or
 * an empty one) uses the gateway's `<label>@base64/<base64url>` form. 0 or SL_EINVAL (a base
 * that is not http(s)). Any thread. */
int sl_pushgw_url(const char *base, const char *job, const char *instance, struct sl_buf *out);
/* The body of one push: the aggregator's metrics, then sl_pipeline_metrics_prom(p). Any
 * thread. */
void sl_pushgw_render(const struct sl_pipeline *p, struct sl_buf *out);
/* Sum of a component-stat family (e.g. "sluice_parquet_open_writers") over every component
 * of p; 0 when no component has it. Any thread. */
double sl_pushgw_stat_sum(const struct sl_pipeline *p, const char *name);

#endif
