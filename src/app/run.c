/*
 * run.c — run a loaded configuration (see run.h): `sluice run` and `sluice aggregator`.
 *
 * DESIGN: the main thread owns everything here. It waits on the signal fd (100 ms polls) and
 * on the pipeline; a stop request stops the sources and the loop keeps waiting while the
 * queues drain and the sinks flush. The push gateway is stopped only after that, so its final
 * push carries the final counts, and before the pipeline is freed, whose counters it reads.
 */
#include "app/run.h"

#include "api/console.h"
#include "api/pushgw.h"
#include "api/server.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "io/cluster.h"
#include "io/kafka_conf.h"
#include "state/store.h"
#include "sys/signals.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void (*sl_app_diag_map)(struct sl_diag *d);

void sl_app_print_diag(const struct sl_diag *d)
{
    char msg[1400];
    struct sl_diag m = *d;
    if (sl_app_diag_map)
        sl_app_diag_map(&m);
    sl_diag_format(&m, msg, sizeof(msg));
    fprintf(stderr, "sluice: %s\n", msg);
}

/* The top-level `profile_store:`, closed after the pipeline (which commits into it). */
static void close_default_store(void)
{
    struct sl_store *st = sl_store_default();
    sl_store_set_default(NULL);
    sl_store_close(st);
}

struct sl_pipeline *sl_app_build(struct sl_config *cfg, const struct sl_app_opts *o)
{
    struct sl_diag d;
    sl_diag_init(&d);
    if (cfg->log_level && !o->log_level_given)
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(cfg->log_level));
    if (cfg->cluster.brokers) /* every librdkafka client's client.id names this node */
        sl_kafka_set_node_id(cfg->cluster.node_id);
    if (cfg->profile_store) { /* before the pipeline: profilers and PROFILE_GET use it */
        struct sl_store *st = NULL;
        if (sl_store_open(cfg->profile_store, &st, &d)) {
            snprintf(d.file, sizeof d.file, "%s", cfg->path);
            d.line = cfg->profile_store_line;
            d.col = cfg->profile_store_col;
            sl_app_print_diag(&d);
            return NULL;
        }
        sl_store_set_default(st);
    }
    struct sl_pipeline_opts po = {.workers = o->workers, .once = o->once};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &po, &d);
    if (!p) {
        sl_app_print_diag(&d);
        close_default_store();
        return NULL;
    }
    return p;
}

void sl_app_teardown(struct sl_pipeline *p, struct sl_config *cfg)
{
    sl_pipeline_free(p); /* waits for the threads */
    close_default_store();
    sl_config_free(cfg);
}

static void human(double v, char *out, size_t n)
{
    if (v >= 1e9)
        snprintf(out, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

/* On a terminal the status line rewrites itself ("\r"), unless stdout is the same terminal
 * (a console sink): then each status is a line of its own so events cannot overwrite it. */
static bool status_own_line;
static int64_t run_started;

/* `run --once` over input of known size (files): a progress bar with bytes read, events/s
 * and the time left at the current rate. */
static void progress_line(const struct sl_pipeline_totals *t, const struct sl_pipeline_totals *prev,
                          double dt, double elapsed, bool final)
{
    double frac = t->bytes_total ? (double)t->bytes_in / (double)t->bytes_total : 0;
    if (frac > 1)
        frac = 1;
    char bar[33];
    int fill = (int)(frac * 30 + 0.5);
    bar[0] = '[';
    for (int i = 0; i < 30; i++)
        bar[1 + i] = i < fill ? '#' : '.';
    bar[31] = ']';
    bar[32] = 0;
    char rd[16], tot[16], rate[16], eta[32];
    human((double)t->bytes_in, rd, sizeof rd);
    human((double)t->bytes_total, tot, sizeof tot);
    human((double)(t->events_in - prev->events_in) / dt, rate, sizeof rate);
    double bps = elapsed > 0 ? (double)t->bytes_in / elapsed : 0;
    if (final)
        snprintf(eta, sizeof eta, "in %.1fs", elapsed);
    else if (bps > 0) {
        long left = (long)((double)(t->bytes_total -
                                    (t->bytes_in < t->bytes_total ? t->bytes_in : t->bytes_total)) /
                           bps);
        snprintf(eta, sizeof eta, "ETA %ld:%02ld", left / 60, left % 60);
    } else
        snprintf(eta, sizeof eta, "ETA --:--");
    fprintf(stderr, "%ssluice: %s %5.1f%% %sB/%sB | %s ev/s | errors %llu | %s   %s",
            status_own_line ? "" : "\r", bar, frac * 100, rd, tot, rate,
            (unsigned long long)t->errors, eta, final || status_own_line ? "\n" : "");
    fflush(stderr);
}

static void status_line(struct sl_pipeline *p, struct sl_pipeline_totals *prev, double dt,
                        bool final)
{
    struct sl_pipeline_totals t;
    sl_pipeline_totals(p, &t);
    if (sl_pipeline_once(p) && t.bytes_total) {
        progress_line(&t, prev, dt, (double)(sl_clock_mono_ns() - run_started) / 1e9, final);
        *prev = t;
        return;
    }
    char in[16], out[16], err[16], drop[16];
    human((double)(t.events_in - prev->events_in) / dt, in, sizeof(in));
    human((double)(t.events_out - prev->events_out) / dt, out, sizeof(out));
    human((double)t.errors, err, sizeof(err));
    human((double)t.dropped, drop, sizeof(drop));
    fprintf(stderr,
            "%ssluice: in %s ev/s | out %s ev/s | total in %llu out %llu | errors %s | "
            "dropped %s | queue %zu/%zu sinks %zu/%zu   %s",
            status_own_line ? "" : "\r", in, out, (unsigned long long)t.events_in,
            (unsigned long long)t.events_out, err, drop, t.work_queued, t.work_cap, t.sink_queued,
            t.sink_cap, final || status_own_line ? "\n" : "");
    fflush(stderr);
    *prev = t;
}

int sl_app_run(struct sl_config *cfg, const struct sl_app_opts *o)
{
    sl_signals_install();
    struct sl_pipeline *p = sl_app_build(cfg, o);
    if (!p) {
        sl_config_free(cfg);
        return 2;
    }
    if (cfg->api_listen && cfg->api.samples > 0) { /* the console's samples, from the start */
        struct sl_diag d0;
        sl_diag_init(&d0);
        if (sl_console_install_samples(p, cfg->api.samples, &d0)) {
            snprintf(d0.file, sizeof d0.file, "%s", cfg->path);
            d0.line = cfg->api.line;
            d0.col = cfg->api.col;
            sl_app_print_diag(&d0);
            sl_app_teardown(p, cfg);
            return 2;
        }
    }
    bool show = o->status == 1 || (o->status < 0 && isatty(STDERR_FILENO));
    status_own_line = !isatty(STDERR_FILENO) || isatty(STDOUT_FILENO);
    sl_info(NULL, "sluice %s: %u components, %d workers%s", SL_VERSION, sl_pipeline_count(p),
            sl_pipeline_workers(p), o->once ? ", --once" : "");
    run_started = sl_clock_mono_ns();
    sl_pipeline_start(p);
    struct sl_api_server *api = NULL;
    struct sl_pushgw *pg = NULL;
    struct sl_cluster *cluster = NULL;
    struct sl_diag d;
    sl_diag_init(&d);
    if (cfg->api_listen) {
        api = sl_api_server_start(cfg->api_listen, &cfg->api, p, &d);
        if (!api) {
            snprintf(d.file, sizeof d.file, "%s", cfg->path);
            d.line = cfg->api.line;
            d.col = cfg->api.col;
            goto fail;
        }
        sl_info("api", "listening on %s%s (port %d): /health /metrics /api/v1/pipeline%s",
                cfg->api.tls_cert ? "https://" : "", cfg->api_listen, sl_api_server_port(api),
                cfg->api.tokens
                    ? (cfg->api.open_metrics ? "; tokens required but on /health and /metrics"
                                             : "; tokens required everywhere")
                    : "");
    }
    if (cfg->cluster.brokers) {
        char api_addr[300] = "";
        if (api) { /* the bound port: "127.0.0.1:0" is no use to the other nodes */
            const char *colon = strrchr(cfg->api_listen, ':');
            int hl = colon ? (int)(colon - cfg->api_listen) : (int)strlen(cfg->api_listen);
            snprintf(api_addr, sizeof api_addr, "%.*s:%d", hl, cfg->api_listen,
                     sl_api_server_port(api));
        }
        cluster = sl_cluster_start(&cfg->cluster, api ? api_addr : NULL, &d);
        if (!cluster) {
            snprintf(d.file, sizeof d.file, "%s", cfg->path);
            d.line = cfg->cluster.line;
            d.col = cfg->cluster.col;
            goto fail;
        }
    }
    if (cfg->push_gateway.url) {
        pg = sl_pushgw_start(&cfg->push_gateway, p, &d);
        if (!pg) {
            snprintf(d.file, sizeof d.file, "%s", cfg->path);
            d.line = cfg->push_gateway.line;
            d.col = cfg->push_gateway.col;
            goto fail;
        }
        sl_info("push_gateway", "pushing to %s every %.3gs", cfg->push_gateway.url,
                (double)cfg->push_gateway.interval_ns / 1e9);
    }
    struct sl_pipeline_totals prev = {0};
    int64_t last = sl_clock_mono_ns();
    bool stopping = false;
    for (;;) {
        /* the done eventfd ends the wait at once (a `--once` run over a small input is not
         * kept up to 100 ms); the timeout paces the status line */
        struct pollfd pfd[2] = {{.fd = sl_signals_fd(), .events = POLLIN},
                                {.fd = sl_pipeline_done_fd(p), .events = POLLIN}};
        if (stopping)
            pfd[0].fd = -1;
        if (poll(pfd, 2, 100) > 0 && pfd[0].revents) {
            sl_info(NULL, "stop requested: stopping sources, draining queues, flushing sinks");
            sl_pipeline_stop(p);
            stopping = true;
        }
        if (sl_pipeline_wait(p, 0))
            break;
        int64_t now = sl_clock_mono_ns();
        if (show && now - last >= (o->once ? 500000000 : 2000000000)) {
            status_line(p, &prev, (double)(now - last) / 1e9, false);
            last = now;
        }
    }
    if (show)
        status_line(p, &prev, (double)(sl_clock_mono_ns() - last) / 1e9 + 1e-9, true);
    struct sl_pipeline_totals t;
    sl_pipeline_totals(p, &t);
    sl_info(NULL, "done: events in %llu, written %llu, errors %llu, dropped %llu",
            (unsigned long long)t.events_in, (unsigned long long)t.events_out,
            (unsigned long long)t.errors, (unsigned long long)t.dropped);
    int failed = sl_pipeline_failed_sources(p);
    if (failed)
        sl_error(NULL, "%d source(s) stopped with an error (see above)", failed);
    sl_pushgw_stop(pg); /* the final push: after the drain, before the pipeline goes */
    sl_api_server_stop(api);
    sl_cluster_stop(cluster); /* "left": after the drain let this node's partitions go */
    sl_app_teardown(p, cfg);
    return failed ? 1 : 0;

fail:
    sl_app_print_diag(&d);
    sl_api_server_stop(api);
    sl_cluster_stop(cluster);
    sl_pipeline_stop(p);
    sl_app_teardown(p, cfg);
    return 2;
}
