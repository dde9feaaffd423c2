/*
 * in_stdin.c — the `stdin` source: JSON lines or raw lines from standard input until EOF.
 */
#include "base/alloc.h"
#include "core/component.h"
#include "io/linereader.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

struct stdin_conf {
    int format;
    uint64_t max_line;
    char *message_field;
};

static int stdin_run(struct sl_component *c)
{
    struct stdin_conf *cf = c->conf;
    struct sl_linereader_opts o = {.format = cf->format ? SL_LINES_RAW : SL_LINES_JSON,
                                   .max_line = cf->max_line,
                                   .message_field = sl_sym_intern_c(cf->message_field),
                                   .where = "stdin"};
    struct sl_linereader *r = sl_linereader_new(c, &o);
    char *buf = sl_xmalloc(1u << 20);
    int rc = 0;
    while (!sl_source_stopping(c)) {
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sl_source_stop_fd(c), .events = POLLIN}};
        int n = poll(pfd, 2, 200);
        if (n == 0) {
            sl_linereader_flush(r); /* keep a slow stream live */
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (pfd[1].revents)
            break;
        ssize_t got = read(STDIN_FILENO, buf, 1u << 20);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        if (sl_linereader_feed(r, buf, (size_t)got))
            break;
    }
    sl_linereader_finish(r);
    sl_linereader_free(r);
    sl_free(buf);
    return rc;
}

static const struct sl_option stdin_opts[] = {
    {"format", SL_OPT_ENUM, "json", offsetof(struct stdin_conf, format),
     "json: one JSON object per line; lines: each line is a `message` string", "json|lines", 0, 0,
     0},
    {"max_line", SL_OPT_SIZE, "1MiB", offsetof(struct stdin_conf, max_line),
     "longer lines become dead letters", NULL, 0, 0, 0},
    {"message_field", SL_OPT_STRING, "message", offsetof(struct stdin_conf, message_field),
     "field that holds a raw line", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_stdin_ops = {
    .type = "stdin",
    .kind = SL_KIND_SOURCE,
    .summary = "read JSON lines or raw lines from standard input until EOF",
    .options = stdin_opts,
    .conf_len = sizeof(struct stdin_conf),
    .run = stdin_run,
};
