/*
 * main.c — the sluice command line.
 *
 *   sluice run -c FILE [--once] [--workers N] [--log-level L] [--status|--no-status]
 *   sluice check -c FILE
 *   sluice help [COMPONENT]
 *   sluice stellar [-e EXPR | -f FILE | --functions | --test FILE...] [--vars JSON] [--strict]
 *   sluice explain EXPR
 *   sluice sql [--server URL] [--transform NAME]
 *   sluice profiles --store URL [PROFILE [ENTITY]]
 *   sluice partout --store FILE [UUID]
 *   sluice keygen [--json]
 *   sluice send --server-key KEY [--host H] [--port P] [...] [FILE...]
 *   sluice aggregator [the JVM aggregator's flags] [--print-config]
 *   sluice receiver --root DIR --keys FILE [--listen HOST:PORT] [...]
 *   sluice usecase run|check DIR|FILE [--debug]
 *   sluice --version
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#include "app/aggregator_cmd.h"
#include "app/keygen_cmd.h"
#include "app/partout_cmd.h"
#include "app/profiles_cmd.h"
#include "app/receiver_cmd.h"
#include "app/run.h"
#include "app/send_cmd.h"
#include "app/sql_cmd.h"
#include "app/stellar_cmd.h"
#include "app/usecase.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "core/config.h"
#include "core/pipeline.h"
#include "io/plugins.h"
#include "io/sinkbuf_disk.h"

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
               "       sluice sql [--server http://HOST:PORT] [--transform NAME]\n"
               "       sluice profiles --store URL [PROFILE [ENTITY]] [--json]\n"
               "       sluice partout --store FILE [UUID [--from MS] [--to MS] [--level N]]\n"
               "       sluice keygen [--json]\n"
               "       sluice send --server-key KEY [--host H] [--port P] [...] [FILE...]\n"
               "       sluice aggregator [-f settings.conf] [flags] [--print-config]\n"
               "       sluice receiver --root DIR --keys FILE [--listen HOST:PORT] [...]\n"
               "       sluice usecase run|check DIR|FILE [--debug]\n"
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
               "  sql      a ksqlDB-style SQL shell: against a running sluice's REST API\n"
               "           (--server), or a standalone engine fed with .push/.load\n"
               "  profiles what a profile store holds: profiles, a profile's entities, or an\n"
               "           entity's measurements (sluice profiles --help)\n"
               "  partout  what a Partout master's store holds: agents, or one agent's counts\n"
               "           over time at the detail kept for their age (sluice partout --help)\n"
               "  keygen   a CurveZMQ key pair for the zmq source, in every accepted form\n"
               "  send     push JSON events as network-event FlatBuffers over CurveZMQ to a\n"
               "           zmq source (sluice send --help)\n"
               "  aggregator\n"
               "           the JVM data aggregator's flags: builds and runs the zmq -> dns ->\n"
               "           parquet -> receiver pipeline (sluice aggregator --help)\n"
               "  receiver store the aggregator's Parquet uploads and serve its command set\n"
               "           (sluice receiver --help)\n"
               "  usecase  run dataShark use cases (.conf + sluice transforms): one FILE, or\n"
               "           every enabled one under DIR in one process (sluice usecase --help)\n");
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

/* Read the -c file; NULL (diagnostic printed) when it does not load. */
static struct sl_config *load_file(const struct args *a)
{
    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_config *cfg = NULL;
    if (sl_config_load_file(a->config, &cfg, &d)) {
        sl_app_print_diag(&d);
        return NULL;
    }
    return cfg;
}

static int cmd_run(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, 2, &a);
    if (rc)
        return rc;
    if (a.log_level)
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(a.log_level));
    struct sl_config *cfg = load_file(&a);
    if (!cfg)
        return 2;
    struct sl_app_opts o = {.workers = a.workers,
                            .once = a.once,
                            .status = a.status,
                            .log_level_given = a.log_level != NULL};
    return sl_app_run(cfg, &o);
}

static int cmd_check(int argc, char **argv)
{
    struct args a = {0};
    int rc = parse_args(argc, argv, 2, &a);
    if (rc)
        return rc;
    struct sl_config *cfg = load_file(&a);
    if (!cfg)
        return 2;
    struct sl_app_opts o = {.workers = a.workers, .log_level_given = a.log_level != NULL};
    struct sl_pipeline *p = sl_app_build(cfg, &o);
    if (!p) {
        sl_config_free(cfg);
        return 2;
    }
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_pipeline_describe(p, &b);
    if (cfg->api_listen)
        sl_buf_appendf(&b, "api: %s\n", cfg->api_listen);
    if (cfg->push_gateway.url)
        sl_buf_appendf(&b, "push_gateway: %s every %.3gs\n", cfg->push_gateway.url,
                       (double)cfg->push_gateway.interval_ns / 1e9);
    fputs(b.ptr, stdout);
    printf("%s: ok\n", a.config);
    sl_buf_fini(&b);
    sl_app_teardown(p, cfg);
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
    sl_sinkbuf_set_store(&sl_io_sinkbuf_disk); /* sinks' buffer: {type: disk} */
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
    if (strcmp(cmd, "sql") == 0)
        return sl_cmd_sql(argc, argv);
    if (strcmp(cmd, "profiles") == 0)
        return sl_cmd_profiles(argc, argv);
    if (strcmp(cmd, "partout") == 0)
        return sl_cmd_partout(argc, argv);
    if (strcmp(cmd, "keygen") == 0)
        return sl_cmd_keygen(argc, argv);
    if (strcmp(cmd, "send") == 0)
        return sl_cmd_send(argc, argv);
    if (strcmp(cmd, "aggregator") == 0)
        return sl_cmd_aggregator(argc, argv);
    if (strcmp(cmd, "receiver") == 0)
        return sl_cmd_receiver(argc, argv);
    if (strcmp(cmd, "usecase") == 0)
        return sl_cmd_usecase(argc, argv);
    fprintf(stderr, "sluice: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
