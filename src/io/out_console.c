/*
 * out_console.c — the `console` sink: events as NDJSON or indented JSON on stdout/stderr,
 * for debugging. One write(2) per batch so lines of different sinks do not interleave.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "codec/json.h"
#include "core/component.h"

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

enum { FMT_JSON, FMT_PRETTY };

struct console_conf {
    int format;
    int stream;
};

struct console_state {
    struct sl_buf line;
    struct sl_buf out;
};

static int console_init(struct sl_component *c, struct sl_diag *d)
{
    struct console_state *s = sl_xcalloc(1, sizeof(*s));
    sl_buf_init(&s->line, 64u << 20);
    sl_buf_init(&s->out, 256u << 20);
    c->state = s;
    return 0;
}

static void console_fini(struct sl_component *c)
{
    struct console_state *s = c->state;
    if (!s)
        return;
    sl_buf_fini(&s->line);
    sl_buf_fini(&s->out);
    sl_free(s);
}

/* Re-indent compact JSON (as our writer produces it) with two spaces. */
static int pretty(struct sl_buf *out, const char *p, size_t n)
{
    int depth = 0, rc = 0;
    bool in_str = false;
    for (size_t i = 0; i < n && !rc; i++) {
        char ch = p[i];
        if (in_str) {
            rc = sl_buf_putc(out, ch);
            if (ch == '\\' && i + 1 < n)
                rc = rc ? rc : sl_buf_putc(out, p[++i]);
            else if (ch == '"')
                in_str = false;
            continue;
        }
        switch (ch) {
        case '"':
            in_str = true;
            rc = sl_buf_putc(out, ch);
            break;
        case '{':
        case '[':
            if (i + 1 < n && (p[i + 1] == '}' || p[i + 1] == ']')) {
                rc = sl_buf_putc(out, ch);
                rc = rc ? rc : sl_buf_putc(out, p[++i]);
                break;
            }
            depth++;
            rc = sl_buf_appendf(out, "%c\n%*s", ch, depth * 2, "");
            break;
        case '}':
        case ']':
            depth--;
            rc = sl_buf_appendf(out, "\n%*s%c", depth * 2, "", ch);
            break;
        case ',':
            rc = sl_buf_appendf(out, ",\n%*s", depth * 2, "");
            break;
        case ':':
            rc = sl_buf_puts(out, ": ");
            break;
        default:
            rc = sl_buf_putc(out, ch);
        }
    }
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int console_write(struct sl_component *c, struct sl_batch *b)
{
    struct console_conf *cf = c->conf;
    struct console_state *s = c->state;
    int rc = 0;
    sl_buf_reset(&s->out);
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        if (cf->format == FMT_PRETTY) {
            sl_buf_reset(&s->line);
            rc = sl_json_write_event(&s->line, &b->events[i]);
            rc = rc ? rc : pretty(&s->out, s->line.ptr, s->line.len);
        } else {
            rc = sl_json_write_event(&s->out, &b->events[i]);
        }
        rc = rc ? rc : sl_buf_putc(&s->out, '\n');
    }
    if (rc)
        return rc;
    rc = write_all(cf->stream ? STDERR_FILENO : STDOUT_FILENO, s->out.ptr, s->out.len);
    if (!rc)
        atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
    return rc;
}

static const struct sl_option console_opts[] = {
    {"format", SL_OPT_ENUM, "json", offsetof(struct console_conf, format),
     "json: one object per line; pretty: indented", "json|pretty", 0, 0, 0},
    {"stream", SL_OPT_ENUM, "stdout", offsetof(struct console_conf, stream), "where to print",
     "stdout|stderr", 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_out_console_ops = {
    .type = "console",
    .kind = SL_KIND_SINK,
    .summary = "print events as JSON lines or indented JSON (debugging)",
    .options = console_opts,
    .conf_len = sizeof(struct console_conf),
    .init = console_init,
    .fini = console_fini,
    .write = console_write,
};
