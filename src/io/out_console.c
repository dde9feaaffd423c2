/*
 * out_console.c — the `console` sink: events as JSON on stdout or stderr.
 *
 * `format: json` writes one compact JSON object per line (NDJSON); `format: pretty` writes
 * each event as indented multi-line JSON (two spaces, like Python's json.dumps(indent=2)),
 * for people watching a terminal. The event time is not a field and is not printed.
 *
 * DESIGN: a batch is rendered into one buffer and handed to the kernel with one write(2)
 * (a loop only for partial writes), so lines of different sinks writing to the same stream
 * never interleave inside a batch and a batch costs one system call. The buffer is kept
 * between batches (sink thread only) and grows to the largest batch seen; a batch larger
 * than FLUSH_AT goes out in several writes.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "sys/fdio.h"

#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>

enum { FMT_JSON, FMT_PRETTY };
enum { STREAM_STDOUT, STREAM_STDERR };

struct console_conf {
    int format;
    int stream;
};

struct console {
    int fd;
    struct sl_buf out;
    struct sl_log_limit limit;
};

#define OUT_MAX  ((size_t)256 << 20) /* one event larger than this is not printed */
#define FLUSH_AT ((size_t)4 << 20)

static const struct sl_option console_opts[] = {
    {"format", SL_OPT_ENUM, "json", offsetof(struct console_conf, format),
     "json: one compact object per line (NDJSON); pretty: indented multi-line JSON", "json|pretty",
     0, 0, 0},
    {"stream", SL_OPT_ENUM, "stdout", offsetof(struct console_conf, stream), "where to write",
     "stdout|stderr", 0, 0, 0},
    {0},
};

static int indent(struct sl_buf *b, int depth)
{
    int rc = sl_buf_putc(b, '\n');
    for (int i = 0; i < depth && !rc; i++)
        rc = sl_buf_append(b, "  ", 2);
    return rc;
}

/* Indented JSON of v at nesting `depth` (the first line is not indented: the caller did). */
static int pretty_value(struct sl_buf *b, const struct sl_value *v, int depth)
{
    int rc = 0;
    if (v->type == SL_V_LIST && v->len) {
        rc = sl_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(b, ',');
            if (!rc)
                rc = indent(b, depth + 1);
            if (!rc)
                rc = pretty_value(b, &v->u.list[i], depth + 1);
        }
        if (!rc)
            rc = indent(b, depth);
        return rc ? rc : sl_buf_putc(b, ']');
    }
    if (v->type == SL_V_MAP && v->len) {
        rc = sl_buf_putc(b, '{');
        for (uint32_t i = 0; i < v->len && !rc; i++) {
            if (i)
                rc = sl_buf_putc(b, ',');
            if (!rc)
                rc = indent(b, depth + 1);
            if (!rc)
                rc = sl_json_write_string(b, v->u.map[i].key.ptr, v->u.map[i].key.len);
            if (!rc)
                rc = sl_buf_append(b, ": ", 2);
            if (!rc)
                rc = pretty_value(b, &v->u.map[i].val, depth + 1);
        }
        if (!rc)
            rc = indent(b, depth);
        return rc ? rc : sl_buf_putc(b, '}');
    }
    return sl_json_write_value(b, v); /* scalars, [] and {} */
}

static int pretty_event(struct sl_buf *b, const struct sl_event *ev)
{
    if (!ev->count)
        return sl_buf_append(b, "{}", 2);
    int rc = sl_buf_putc(b, '{');
    for (uint32_t i = 0; i < ev->count && !rc; i++) {
        struct sl_str name = sl_sym_name(ev->fields[i].sym);
        if (i)
            rc = sl_buf_putc(b, ',');
        if (!rc)
            rc = indent(b, 1);
        if (!rc)
            rc = sl_json_write_string(b, name.ptr, name.len);
        if (!rc)
            rc = sl_buf_append(b, ": ", 2);
        if (!rc)
            rc = pretty_value(b, &ev->fields[i].val, 1);
    }
    if (!rc)
        rc = sl_buf_append(b, "\n}", 2);
    return rc;
}

static int console_init(struct sl_component *c, struct sl_diag *d)
{
    const struct console_conf *cf = c->conf;
    struct console *s = sl_xcalloc(1, sizeof(*s));
    s->fd = cf->stream == STREAM_STDERR ? STDERR_FILENO : STDOUT_FILENO;
    sl_buf_init(&s->out, OUT_MAX);
    c->state = s;
    return 0;
}

static void console_fini(struct sl_component *c)
{
    struct console *s = c->state;
    if (!s)
        return;
    sl_buf_fini(&s->out);
    sl_free(s);
    c->state = NULL;
}

static int console_drain(struct sl_component *c, struct console *s)
{
    int rc = sl_fd_write_all(s->fd, s->out.ptr, s->out.len);
    if (rc == 0)
        atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
    sl_buf_reset(&s->out);
    return rc;
}

static int console_write(struct sl_component *c, struct sl_batch *b)
{
    const struct console_conf *cf = c->conf;
    struct console *s = c->state;
    int rc = 0;
    sl_buf_reset(&s->out);
    for (uint32_t i = 0; i < b->count; i++) {
        size_t mark = s->out.len;
        int erc = cf->format == FMT_PRETTY ? pretty_event(&s->out, &b->events[i])
                                           : sl_json_write_event(&s->out, &b->events[i]);
        if (!erc)
            erc = sl_buf_putc(&s->out, '\n');
        if (erc) {
            /* too large or no memory: skip this event, keep the others */
            s->out.len = mark;
            if (s->out.ptr)
                s->out.ptr[mark] = 0;
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            sl_log_ratelimited(&s->limit, 5, SL_LOG_ERROR, c->name, "event not printed: %s",
                               sl_strerror(erc));
            continue;
        }
        if (s->out.len >= FLUSH_AT && (rc = console_drain(c, s)) != 0)
            break;
    }
    if (!rc && s->out.len)
        rc = console_drain(c, s);
    sl_buf_reset(&s->out);
    if (rc)
        sl_log_ratelimited(&s->limit, 5, SL_LOG_ERROR, c->name, "write failed: %s",
                           sl_strerror(rc));
    return rc;
}

const struct sl_component_ops sl_out_console_ops = {
    .type = "console",
    .kind = SL_KIND_SINK,
    .summary = "print events as JSON lines or indented JSON on stdout or stderr",
    .options = console_opts,
    .conf_len = sizeof(struct console_conf),
    .init = console_init,
    .fini = console_fini,
    .write = console_write,
};
