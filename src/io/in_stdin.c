/*
 * in_stdin.c — the `stdin` source: JSON lines or raw lines from standard input until EOF.
 *
 * DESIGN: poll(2) on fd 0 and the stop fd, read(2) into a 1 MiB buffer, the shared line
 * reader (io/linereader.c) does the rest. After 100 ms without input the partial batch is
 * emitted, so a slow producer (`tail -f x | sluice ...`) is not held back by batching. The
 * source is finite: it ends at EOF (or on stop), after handing over a last line without a
 * newline.
 */
#include "base/alloc.h"
#include "core/component.h"
#include "io/linereader.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define READ_LEN (1u << 20)
#define IDLE_MS  100

struct stdin_conf {
    int format;
    uint64_t max_line;
    char *message_field;
};

static int stdin_init(struct sl_component *c, struct sl_diag *d)
{
    struct stdin_conf *cf = c->conf;
    if (cf->max_line < 16 || cf->max_line > (1ull << 30)) {
        sl_component_diag_opt(c, "max_line", d);
        sl_diag_hint(d, "max_line: 1MiB");
        return sl_diag_set(d, SL_ECONFIG, "stdin source '%s': max_line must be 16B..1GiB", c->name);
    }
    if (!cf->message_field || !cf->message_field[0] || !sl_sym_intern_c(cf->message_field)) {
        sl_component_diag_opt(c, "message_field", d);
        return sl_diag_set(d, SL_ECONFIG, "stdin source '%s': bad message_field", c->name);
    }
    return 0;
}

static int stdin_run(struct sl_component *c)
{
    struct stdin_conf *cf = c->conf;
    struct sl_linereader_opts o = {.format = cf->format ? SL_LINES_RAW : SL_LINES_JSON,
                                   .max_line = cf->max_line,
                                   .message_field = sl_sym_intern_c(cf->message_field),
                                   .where = "stdin"};
    struct sl_linereader *r = sl_linereader_new(c, &o);
    char *buf = sl_xmalloc(READ_LEN);
    int rc = 0;
    bool closed = false; /* the pipeline is gone: nothing more to hand over */
    while (!sl_source_stopping(c)) {
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = sl_source_stop_fd(c), .events = POLLIN}};
        int n = poll(pfd, 2, IDLE_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0) {
            if (sl_linereader_flush(r)) { /* keep a slow stream live */
                closed = true;
                break;
            }
            continue;
        }
        if (pfd[1].revents)
            break;
        ssize_t got = read(STDIN_FILENO, buf, READ_LEN);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0)
            break;
        if (sl_linereader_feed(r, buf, (size_t)got)) {
            closed = true;
            break;
        }
    }
    if (!closed)
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
     "field that holds a raw line (format: lines)", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_stdin_ops = {
    .type = "stdin",
    .kind = SL_KIND_SOURCE,
    .summary = "read JSON lines or raw lines from standard input until EOF",
    .options = stdin_opts,
    .conf_len = sizeof(struct stdin_conf),
    .init = stdin_init,
    .run = stdin_run,
};
