/*
 * main.c — the sluice command line.
 *
 *   sluice run -c FILE [--once] [--workers N] [--log-level L] [--status|--no-status]
 *   sluice check -c FILE
 *   sluice help [COMPONENT]
 *   sluice stellar [-e EXPR | -f FILE | --functions | --test FILE...] [--vars JSON] [--strict]
 *   sluice explain EXPR
 *   sluice profiles --store URL [PROFILE [ENTITY]]
 *   sluice keygen [--json]
 *   sluice send --server-key KEY [--host H] [--port P] [...] [FILE...]
 *   sluice receiver --root DIR --keys FILE [--listen HOST:PORT] [...]
 *   sluice --version
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#include "api/server.h"
#include "app/keygen_cmd.h"
#include "app/profiles_cmd.h"
#include "app/receiver_cmd.h"
#include "app/send_cmd.h"
#include "app/stellar_cmd.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "state/store.h"
#include "sys/signals.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: sluice run -c FILE [--once] [--workers N] [--log-level LEVEL]\n"
               "                  [--status | --no-status]\n"
               "       sluice check -c FILE\n"
               "       sluice help [COMPONENT]\n"
               "       sluice stellar [-e EXPR | -f FILE | --functions | --test FILE...]\n"
               "                      [--vars JSON] [--strict] [--json]\n"
               "       sluice explain EXPR\n"
               "       sluice profiles --store URL [PROFILE [ENTITY]] [--json]\n"
               "       sluice keygen [--json]\n"
               "       sluice send --server-key KEY [--host H] [--port P] [...] [FILE...]\n"
               "       sluice receiver --root DIR --keys FILE [--listen HOST:PORT] [...]\n"
               "       sluice --version\n"
               "\n"
               "  run      run the pipeline of FILE until SIGINT/SIGTERM (or, with --once,\n"
               "           until finite sources end and everything is flushed)\n"
               "  check    validate FILE and print the pipeline graph\n"
               "  help     list component types, or the options of one\n"
               "  stellar  Stellar REPL on a terminal; -e evaluates one expression, -f FILE or\n"
               "           piped stdin one per line (x := expr assigns); --functions lists the\n"
               "           functions; --test runs golden files (tests/lang/*.test)\n"
               "  explain  print the bytecode of a Stellar expression\n"
               "  profiles what a profile store holds: profiles, a profile's entities, or an\n"
               "           entity's measurements (sluice profiles --help)\n"
               "  keygen   a CurveZMQ key pair for the zmq source, in every accepted form\n"
               "  send     push JSON events as network-event FlatBuffers over CurveZMQ to a\n"
               "           zmq source (sluice send --help)\n"
               "  receiver store the aggregator's Parquet uploads and serve its command set\n"
               "           (sluice receiver --help)\n");
}

struct args {
    const char *config;
    bool once;
    int workers;
    int status; /* -1 auto (terminal), 0 off, 1 on */
    const char *log_level;
};

static int parse_args(int argc, char **argv, int first, struct args *a)
{
    a->status = -1;
    for (int i = first; i < argc; i++) {
        const char *s = argv[i];
        if ((strcmp(s, "-c") == 0 || strcmp(s, "--config") == 0) && i + 1 < argc) {
            a->config = argv[++i];
        } else if (strncmp(s, "--config=", 9) == 0) {
            a->config = s + 9;
        } else if (strcmp(s, "--once") == 0) {
            a->once = true;
        } else if (strcmp(s, "--workers") == 0 && i + 1 < argc) {
            int64_t n;
            if (sl_str_to_i64(sl_str_c(argv[++i]), &n) || n < 1 || n > 1024) {
                fprintf(stderr, "sluice: --workers takes a number from 1 to 1024\n");
                return 2;
            }
            a->workers = (int)n;
        } else if (strcmp(s, "--log-level") == 0 && i + 1 < argc) {
            a->log_level = argv[++i];
            if (sl_log_level_parse(a->log_level) < 0) {
                fprintf(stderr, "sluice: --log-level takes debug, info, warn, error or off\n");
                return 2;
            }
        } else if (strcmp(s, "--status") == 0) {
            a->status = 1;
        } else if (strcmp(s, "--no-status") == 0) {
            a->status = 0;
        } else {
            fprintf(stderr, "sluice: unknown argument '%s'\n", s);
            usage(stderr);
            return 2;
        }
    }
    if (!a->config) {
        fprintf(stderr, "sluice: missing -c FILE\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static void print_diag(const struct sl_diag *d)
{
    char msg[1400];
    sl_diag_format(d, msg, sizeof(msg));
    fprintf(stderr, "sluice: %s\n", msg);
}

/* The top-level `profile_store:`, closed after the pipeline (which commits into it). */
static void close_default_store(void)
{
    struct sl_store *st = sl_store_default();
    sl_store_set_default(NULL);
    sl_store_close(st);
}

static struct sl_pipeline *load(const struct args *a, struct sl_config **cfgp)
{
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    if (sl_config_load_file(a->config, &cfg, &d)) {
        print_diag(&d);
        return NULL;
    }
    if (cfg->log_level && !a->log_level)
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(cfg->log_level));
    if (cfg->profile_store) { /* before the pipeline: profilers and PROFILE_GET use it */
        struct sl_store *st = NULL;
        if (sl_store_open(cfg->profile_store, &st, &d)) {
            snprintf(d.file, sizeof d.file, "%s", cfg->path);
            d.line = cfg->profile_store_line;
            d.col = cfg->profile_store_col;
            print_diag(&d);
            sl_config_free(cfg);
            return NULL;
        }
        sl_store_set_default(st);
    }
    struct sl_pipeline_opts o = {.workers = a->workers, .once = a->once};
    struct sl_pipeline *p = sl_pipeline_new(cfg, &o, &d);
    if (!p) {
        print_diag(&d);
        close_default_store();
        sl_config_free(cfg);
        return NULL;
    }
    *cfgp = cfg;
    return p;
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
        long left = (long)((double)(t->bytes_total - (t->bytes_in < t->bytes_total ? t->bytes_in
                                                                                   : t->bytes_total)) /
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

static int cmd_run(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, 2, &a);
    if (rc)
        return rc;
    if (a.log_level)
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(a.log_level));
    sl_signals_install();
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = load(&a, &cfg);
    if (!p)
        return 2;
    bool show = a.status == 1 || (a.status < 0 && isatty(STDERR_FILENO));
    status_own_line = !isatty(STDERR_FILENO) || isatty(STDOUT_FILENO);
    sl_info(NULL, "sluice %s: %u components, %d workers%s", SL_VERSION, sl_pipeline_count(p),
            sl_pipeline_workers(p), a.once ? ", --once" : "");
    run_started = sl_clock_mono_ns();
    sl_pipeline_start(p);
    struct sl_api_server *api = NULL;
    if (cfg->api_listen) {
        struct sl_diag d;
        sl_diag_init(&d);
        api = sl_api_server_start(cfg->api_listen, p, &d);
        if (!api) {
            print_diag(&d);
            sl_pipeline_stop(p);
            sl_pipeline_free(p); /* waits for the threads */
            close_default_store();
            sl_config_free(cfg);
            return 2;
        }
        sl_info("api", "listening on %s (port %d): /health /metrics /api/v1/pipeline",
                cfg->api_listen, sl_api_server_port(api));
    }
    struct sl_pipeline_totals prev = {0};
    int64_t last = sl_clock_mono_ns();
    bool stopping = false;
    for (;;) {
        struct pollfd pfd = {.fd = sl_signals_fd(), .events = POLLIN};
        if (!stopping && poll(&pfd, 1, 100) > 0) {
            sl_info(NULL, "stop requested: stopping sources, draining queues, flushing sinks");
            sl_pipeline_stop(p);
            stopping = true;
        }
        if (sl_pipeline_wait(p, stopping ? 100 : 0))
            break;
        int64_t now = sl_clock_mono_ns();
        if (show && now - last >= (a.once ? 500000000 : 2000000000)) {
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
    sl_api_server_stop(api);
    sl_pipeline_free(p);
    close_default_store();
    sl_config_free(cfg);
    return failed ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, 2, &a);
    if (rc)
        return rc;
    struct sl_config *cfg = NULL;
    struct sl_pipeline *p = load(&a, &cfg);
    if (!p)
        return 2;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_pipeline_describe(p, &b);
    if (cfg->api_listen)
        sl_buf_appendf(&b, "api: %s\n", cfg->api_listen);
    fputs(b.ptr, stdout);
    printf("%s: ok\n", a.config);
    sl_buf_fini(&b);
    sl_pipeline_free(p);
    close_default_store();
    sl_config_free(cfg);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    if (argc >= 3) {
        const struct sl_component_ops *ops = sl_registry_find_any(argv[2]);
        if (!ops) {
            fprintf(stderr, "sluice: no component type '%s' (see `sluice help`)\n", argv[2]);
            return 2;
        }
        /* a name may be both a source and a sink (file): show each */
        for (const struct sl_component_ops *const *t = sl_registry_all(); *t; t++) {
            if (strcmp((*t)->type, argv[2]) == 0) {
                sl_registry_help(*t, &b);
                sl_buf_putc(&b, '\n');
            }
        }
    } else {
        usage(stdout);
        for (int k = SL_KIND_SOURCE; k <= SL_KIND_SINK; k++) {
            sl_buf_appendf(&b, "\n%ss:\n", sl_kind_name((enum sl_kind)k));
            for (const struct sl_component_ops *const *t = sl_registry_all(); *t; t++)
                if ((int)(*t)->kind == k)
                    sl_buf_appendf(&b, "  %-12s %s\n", (*t)->type, (*t)->summary);
        }
        sl_buf_puts(&b, "\n`sluice help COMPONENT` lists the options of one type.\n");
    }
    fputs(b.ptr ? b.ptr : "", stdout);
    sl_buf_fini(&b);
    return 0;
}

int main(int argc, char **argv)
{
    sl_core_init();
    sl_registry_set(sl_io_builtins());
    const char *env_level = getenv("SLUICE_LOG");
    if (env_level && sl_log_level_parse(env_level) >= 0)
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(env_level));
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice %s\n", SL_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return cmd_help(argc, argv);
    if (strcmp(cmd, "stellar") == 0)
        return sl_cmd_stellar(argc, argv);
    if (strcmp(cmd, "explain") == 0)
        return sl_cmd_explain(argc, argv);
    if (strcmp(cmd, "profiles") == 0)
        return sl_cmd_profiles(argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return sl_cmd_keygen(argc, argv);
    if (strcmp(cmd, "send") == 0)
        return sl_cmd_send(argc, argv);
    if (strcmp(cmd, "receiver") == 0)
        return sl_cmd_receiver(argc, argv);
    fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
