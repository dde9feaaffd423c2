/*
 * out_file.c — the `file` sink: NDJSON, one event per line, with rotation by size and age
 * and atomic rename of finished files (io/outfile.h). One write(2) per batch.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "codec/json.h"
#include "core/component.h"
#include "io/outfile.h"

#include <stddef.h>

struct file_conf {
    char *path;
    uint64_t rotate_bytes;
    int64_t rotate_interval;
    bool fsync;
};

struct file_state {
    struct sl_outfile f;
    struct sl_buf out;
    struct sl_log_limit lim;
};

static int file_init(struct sl_component *c, struct sl_diag *d)
{
    struct file_conf *cf = c->conf;
    if (!cf->path[0]) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "e.g. path: \"out/events-%%Y%%m%%d.json\"");
        return sl_diag_set(d, SL_ECONFIG, "file sink '%s': empty path", c->name);
    }
    struct file_state *s = sl_xcalloc(1, sizeof(*s));
    sl_outfile_init(&s->f, cf->path, cf->rotate_bytes, cf->rotate_interval, cf->fsync);
    sl_buf_init(&s->out, 512u << 20);
    c->state = s;
    /* a path that cannot be written is a start-up error */
    int rc = sl_outfile_check(&s->f);
    if (rc) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "check that the directory is writable");
        return sl_diag_set(d, SL_ECONFIG, "file sink '%s': cannot write %s: %s", c->name,
                           s->f.final, sl_strerror(rc));
    }
    return 0;
}

static void file_fini(struct sl_component *c)
{
    struct file_state *s = c->state;
    if (!s)
        return;
    sl_outfile_finish(&s->f);
    sl_buf_fini(&s->out);
    sl_free(s);
}

static int file_write(struct sl_component *c, struct sl_batch *b)
{
    struct file_state *s = c->state;
    sl_buf_reset(&s->out);
    int rc = 0;
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        rc = sl_json_write_event(&s->out, &b->events[i]);
        rc = rc ? rc : sl_buf_putc(&s->out, '\n');
    }
    if (!rc)
        rc = sl_outfile_write(&s->f, s->out.ptr, s->out.len);
    if (rc) {
        sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "writing %s: %s", s->f.final,
                           sl_strerror(rc));
        return rc;
    }
    atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
    return 0;
}

static int file_flush(struct sl_component *c)
{
    struct file_state *s = c->state;
    return sl_outfile_tick(&s->f);
}

static const struct sl_option file_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct file_conf, path),
     "output file; strftime parts (%Y-%m-%d) are rendered in UTC when a file opens", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"rotate_bytes", SL_OPT_SIZE, "0", offsetof(struct file_conf, rotate_bytes),
     "start a new file after this many bytes (0: never)", NULL, 0, 0, 0},
    {"rotate_interval", SL_OPT_DURATION, "0", offsetof(struct file_conf, rotate_interval),
     "start a new file after this long (0: never)", NULL, 0, 0, 0},
    {"fsync", SL_OPT_BOOL, "false", offsetof(struct file_conf, fsync),
     "fdatasync every second and before a file is finished", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_out_file_ops = {
    .type = "file",
    .kind = SL_KIND_SINK,
    .summary = "write NDJSON files, rotated by size or age, renamed atomically when finished",
    .options = file_opts,
    .conf_len = sizeof(struct file_conf),
    .init = file_init,
    .fini = file_fini,
    .write = file_write,
    .flush = file_flush,
};
