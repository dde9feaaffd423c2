/*
 * receiver_cmd.c — `sluice receiver`: flags, signals and the life of an sl_upload_server.
 *
 * SIGINT/SIGTERM stop it cleanly (uploads in flight are cut, their temporary files removed)
 * and the counters are logged; SIGHUP re-reads the keys file at the next request (it is also
 * re-read whenever its mtime, size or inode change).
 */
#include "app/receiver_cmd.h"

#include "api/upload_server.h"
#include "base/log.h"
#include "base/str.h"
#include "sys/signals.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sluice receiver --root DIR --keys FILE [--listen HOST:PORT]\n"
            "                       [--commands FILE] [--max-bytes SIZE] [--path PATH]\n"
            "                       [--log-level LEVEL]\n"
            "\n"
            "Receives the aggregator's uploads (multipart POST: api-key, aggregator-id, type,\n"
            "time, [description], file) and stores each Parquet file at\n"
            "DIR/{type}/{yyyy-mm-dd}/{aggregator-id}-{time}.parquet; serves GET /commands and\n"
            "GET /health. See docs/receiver.md.\n"
            "\n"
            "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8080; port 0: any)\n"
            "  --root DIR          where uploads are stored (created when missing)\n"
            "  --keys FILE         accepted api keys, one per line, '#' comments; re-read when\n"
            "                      it changes and on SIGHUP\n"
            "  --commands FILE     the JSON command set served at GET /commands (with an ETag);\n"
            "                      re-read when it changes (without it: 404)\n"
            "  --max-bytes SIZE    largest file accepted, e.g. 64MiB (default 1GiB; above: 413)\n"
            "  --path PATH         the upload path, e.g. /s3 (default: any path except\n"
            "                      /commands and /health)\n"
            "  --log-level LEVEL   debug, info, warn, error or off (default info)\n");
}

static volatile sig_atomic_t hup;

static void on_hup(int sig)
{
    (void)sig;
    hup = 1;
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL when s is not --name. */
static const char *flag(int argc, char **argv, int *i, const char *name, int *missing)
{
    const char *s = argv[*i];
    size_t n = strlen(name);
    if (strncmp(s, name, n) != 0)
        return NULL;
    if (s[n] == '=')
        return s + n + 1;
    if (s[n] != 0)
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

int sl_cmd_receiver(int argc, char **argv)
{
    struct sl_upload_server_opts o = {.listen = "127.0.0.1:8080"};
    const char *max = NULL, *level = NULL;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i], *v;
        int missing = 0;
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if ((v = flag(argc, argv, &i, "--listen", &missing)))
            o.listen = v;
        else if ((v = flag(argc, argv, &i, "--root", &missing)))
            o.root = v;
        else if ((v = flag(argc, argv, &i, "--keys", &missing)))
            o.keys_path = v;
        else if ((v = flag(argc, argv, &i, "--commands", &missing)))
            o.commands_path = v;
        else if ((v = flag(argc, argv, &i, "--max-bytes", &missing)))
            max = v;
        else if ((v = flag(argc, argv, &i, "--path", &missing)))
            o.upload_path = v;
        else if ((v = flag(argc, argv, &i, "--log-level", &missing)))
            level = v;
        else {
            if (missing)
                fprintf(stderr, "sluice receiver: %s needs a value\n", s);
            else
                fprintf(stderr, "sluice receiver: unknown argument '%s'\n", s);
            usage(stderr);
            return 2;
        }
    }
    if (!o.root || !o.keys_path) {
        fprintf(stderr, "sluice receiver: %s is required\n",
                !o.root ? "--root DIR" : "--keys FILE");
        usage(stderr);
        return 2;
    }
    if (max && (sl_str_to_size(sl_str_c(max), &o.max_bytes) || o.max_bytes == 0)) {
        fprintf(stderr, "sluice receiver: --max-bytes takes a size such as 512MiB or 1GiB\n");
        return 2;
    }
    if (o.upload_path && (o.upload_path[0] != '/' || strcmp(o.upload_path, "/commands") == 0 ||
                          strcmp(o.upload_path, "/health") == 0)) {
        fprintf(stderr, "sluice receiver: --path takes a path starting with '/' other than "
                        "/commands and /health\n");
        return 2;
    }
    if (level) {
        if (sl_log_level_parse(level) < 0) {
            fprintf(stderr, "sluice receiver: --log-level takes debug, info, warn, error or off\n");
            return 2;
        }
        sl_log_set_level((enum sl_log_level)sl_log_level_parse(level));
    }
    sl_signals_install();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);

    struct sl_diag d;
    sl_diag_init(&d);
    struct sl_upload_server *r = sl_upload_server_start(&o, &d);
    if (!r) {
        char msg[1400];
        sl_diag_format(&d, msg, sizeof(msg));
        fprintf(stderr, "sluice receiver: %s\n", msg);
        return 2;
    }
    sl_info("receiver", "listening on %s (port %d): POST %s, GET /commands, GET /health; root %s",
            o.listen, sl_upload_server_port(r), o.upload_path ? o.upload_path : "<any path>",
            o.root);
    for (;;) {
        struct pollfd pfd = {.fd = sl_signals_fd(), .events = POLLIN};
        if (poll(&pfd, 1, 200) > 0 || sl_signals_stop_requested())
            break;
        if (hup) {
            hup = 0;
            sl_info("receiver", "SIGHUP: the keys file is re-read at the next request");
            sl_upload_server_reload_keys(r);
        }
    }
    sl_info("receiver", "stop requested");
    struct sl_upload_server_stats st;
    sl_upload_server_stop(r, &st);
    sl_info("receiver",
            "stopped: stored %llu (%llu bytes, %llu rows), duplicates %llu, rejected 400 %llu, "
            "401 %llu, 413 %llu, other %llu; commands 200 %llu, 304 %llu, 404 %llu",
            (unsigned long long)st.stored, (unsigned long long)st.bytes,
            (unsigned long long)st.rows, (unsigned long long)st.duplicates,
            (unsigned long long)st.rejected_400, (unsigned long long)st.rejected_401,
            (unsigned long long)st.rejected_413, (unsigned long long)st.rejected_other,
            (unsigned long long)st.commands_200, (unsigned long long)st.commands_304,
            (unsigned long long)st.commands_404);
    return 0;
}
