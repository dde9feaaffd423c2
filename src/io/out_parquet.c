/*
 * out_parquet.c — the `parquet` sink: events into Parquet files (codec/parquet.h), one open
 * file per rendered path (and so per partition value), rolled by time, rows and bytes.
 *
 * Naming. `path` is a template: `{field}` takes the event's field (a path: "{id.orig_h}"; '/',
 * '%' and control bytes become '_', a missing field "_"), then strftime parts render in UTC at
 * the time the event is written ("out/{type}/%Y-%m-%d/{host}-%H%M%S.parquet"). Events whose
 * rendered paths are equal share an open file. `partition_by: field` names the message type
 * (the path must use `{field}`), written into the file's key-value metadata and the finished
 * notice. A file is written as a hidden `.<name>.tmp` next to its final name, and on finish
 * footer, fsync, rename (never replacing: `name-1.parquet`, `-2`, ... when taken): a reader
 * never sees a partial file.
 *
 * Rolling: a file is finished when it is `roll_interval` old (default 1 s, checked at each
 * write and each flush, every 100 ms), has `roll_rows` rows or `roll_bytes` bytes (written +
 * buffered), or when more than `max_open` files are open (the oldest goes). At shutdown every open
 * file is finished (fini runs after the last flush).
 *
 * Schemas: `schema:` (a YAML mapping, see codec/parquet.h) or `schema_file:` (the same as a
 * JSON file); without either the schema of each file is inferred from its first row group.
 * An event that does not fit (or whose path template cannot be filled) is a dead letter: it
 * goes to `<name>.errors` (read by other sinks, docs/runtime.md) with the field and the
 * reason in `error`, counted in the component's `errors` and in
 * sluice_parquet_rejected_total, and logged (rate-limited).
 *
 * DESIGN: sink thread only, except stats() (atomics). The writers hold at most one row group
 * each (row_group_size), so memory is bounded by max_open x row_group_size.
 */
#include "io/out_parquet.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/parquet.h"
#include "core/component.h"
#include "sys/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pqs_conf {
    char *path;
    char *partition_by;
    int codec;
    int64_t roll_interval;
    int64_t roll_rows;
    uint64_t roll_bytes;
    uint64_t row_group_size;
    int64_t max_open;
    struct sl_tree_opt schema;
    char *schema_file;
};

struct pqs_file {
    char *final; /* rendered path */
    char *tmp;
    char *type;
    int fd;
    struct sl_pq_writer *w;
    int64_t opened_mono_ns;
    /* delivery (core/ack.h): the tokens of the batches with rows in this file, released when
     * the file is finished (footer, fsync, rename) — a row is durable only then */
    struct sl_ack **holds;
    size_t nholds, cap_holds;
    uint64_t held_gen; /* the write() call that last took a hold */
    struct pqs_file *next;
};

/* a part of the path template: literal text, or a field */
struct pqs_part {
    char *text;
    struct sl_path *field; /* NULL: literal */
};

struct pqs_sink {
    struct pqs_part *parts;
    size_t nparts;
    bool has_time;
    struct sl_path *partition;
    char *schema_json; /* NULL: infer */
    size_t schema_len;
    struct pqs_file *files; /* open files, newest first */
    int64_t nopen;
    struct sl_buf name, rendered, scratch;
    /* strftime is a twentieth of the sink's time when run per event: `rendered` is reused
     * while the substituted name and the second stay the same */
    struct sl_buf prev_name;
    int64_t prev_sec, now_sec;
    uint64_t write_gen; /* write() calls so far (see pqs_file.held_gen) */
    struct sl_log_limit lim;
    sl_parquet_finished_fn hook;
    void *hook_ctx;
    struct sl_component *c;
    uint32_t cur_index; /* event being written (for reject logs) */
    atomic_uint_fast64_t bytes_written, files_finished, open_writers, rejected;
};

static const struct sl_option pqs_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct pqs_conf, path),
     "file template: {field} parts from the event, strftime parts in UTC", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"partition_by", SL_OPT_STRING, NULL, offsetof(struct pqs_conf, partition_by),
     "field naming the message type: one open file per value (path must use {field})", NULL, 0, 0,
     0},
    {"codec", SL_OPT_ENUM, "snappy", offsetof(struct pqs_conf, codec), "page compression",
     "uncompressed|snappy|gzip|zstd", 0, 0, 0},
    {"roll_interval", SL_OPT_DURATION, "1s", offsetof(struct pqs_conf, roll_interval),
     "finish a file this long after it opened", NULL, 0, 0, 0},
    {"roll_rows", SL_OPT_INT, "0", offsetof(struct pqs_conf, roll_rows),
     "finish a file at this many rows (0: no limit)", NULL, 0, INT64_MAX, 0},
    {"roll_bytes", SL_OPT_SIZE, "0", offsetof(struct pqs_conf, roll_bytes),
     "finish a file at this size, written + buffered (0: no limit)", NULL, 0, 0, 0},
    {"row_group_size", SL_OPT_SIZE, "64MiB", offsetof(struct pqs_conf, row_group_size),
     "buffered data per row group (and per open file)", NULL, 0, 0, 0},
    {"max_open", SL_OPT_INT, "64", offsetof(struct pqs_conf, max_open),
     "open files at most; the oldest is finished to open another", NULL, 1, 100000, 0},
    {"schema", SL_OPT_TREE, NULL, offsetof(struct pqs_conf, schema),
     "declared schema: field: type (\"string\", \"int64!\", {group}, [list])", NULL, 0, 0, 0},
    {"schema_file", SL_OPT_STRING, NULL, offsetof(struct pqs_conf, schema_file),
     "declared schema as a JSON file (the form of `schema`)", NULL, 0, 0, 0},
    {0},
};

bool sl_out_parquet_set_hook(struct sl_component *c, sl_parquet_finished_fn fn, void *ctx)
{
    struct pqs_sink *s = c->state;
    if (fn && s->hook)
        return false;
    s->hook = fn;
    s->hook_ctx = ctx;
    return true;
}

void sl_out_parquet_layout(const struct sl_component *c, const char **path,
                           const char **partition_by)
{
    const struct pqs_conf *cf = c->conf;
    *path = cf->path;
    *partition_by = cf->partition_by;
}

/* ---- naming */

static void sanitize_into(struct sl_buf *out, struct sl_str v)
{
    if (!v.len) {
        sl_buf_putc(out, '_');
        return;
    }
    for (size_t i = 0; i < v.len && i < 128; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];
        if (ch == '/' || ch == '%' || ch < 0x20 || ch == 0x7f || (i == 0 && ch == '.'))
            ch = '_';
        sl_buf_putc(out, (char)ch);
    }
}

/* Render the path of event ev into s->rendered (NUL-terminated). 0 or error. */
static int render_path(struct pqs_sink *s, const struct sl_event *ev, const struct tm *tm)
{
    sl_buf_reset(&s->name);
    for (size_t i = 0; i < s->nparts; i++) {
        if (!s->parts[i].field) {
            sl_buf_puts(&s->name, s->parts[i].text);
            continue;
        }
        const struct sl_value *v = sl_path_get(s->parts[i].field, ev);
        if (!v || v->type == SL_V_NULL) {
            sl_buf_putc(&s->name, '_');
            continue;
        }
        sl_buf_reset(&s->scratch);
        sanitize_into(&s->name, sl_value_to_text(v, &s->scratch));
    }
    if (!s->name.len || s->name.len >= PATH_MAX)
        return SL_E2BIG;
    if (!s->has_time) {
        sl_buf_reset(&s->rendered);
        return sl_buf_append(&s->rendered, s->name.ptr, s->name.len + 1);
    }
    if (s->prev_sec == s->now_sec && s->prev_name.len == s->name.len &&
        memcmp(s->prev_name.ptr, s->name.ptr, s->name.len) == 0)
        return 0;
    s->prev_sec = -1;
    sl_buf_reset(&s->rendered);
    int rc = sl_buf_reserve(&s->rendered, PATH_MAX);
    if (rc)
        return rc;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* the template is the user's path (fields cannot add '%'); strftime reads nothing but tm */
    size_t n = strftime(s->rendered.ptr, PATH_MAX, s->name.ptr, tm);
#pragma GCC diagnostic pop
    if (!n)
        return SL_E2BIG;
    s->rendered.len = n;
    sl_buf_reset(&s->prev_name);
    if (sl_buf_append(&s->prev_name, s->name.ptr, s->name.len) == 0)
        s->prev_sec = s->now_sec;
    return 0;
}

/* ---- files */

/* Release the file's delivery holds (ok: the file is finished and durable). */
static void release_holds(struct pqs_file *f, bool ok)
{
    for (size_t i = 0; i < f->nholds; i++)
        sl_ack_release(f->holds[i], ok);
    f->nholds = 0;
}

static void free_file(struct pqs_file *f)
{
    release_holds(f, false);
    sl_free(f->holds);
    sl_pq_writer_free(f->w);
    if (f->fd >= 0)
        close(f->fd);
    sl_free(f->final);
    sl_free(f->tmp);
    sl_free(f->type);
    sl_free(f);
}

/* Footer, fsync, rename, notice. The file is unlinked from the list by the caller. */
static void finish_file(struct sl_component *c, struct pqs_sink *s, struct pqs_file *f)
{
    uint64_t before = sl_pq_writer_bytes(f->w);
    int rc = sl_pq_writer_close(f->w);
    uint64_t bytes = sl_pq_writer_bytes(f->w), rows = sl_pq_writer_rows(f->w);
    atomic_fetch_add_explicit(&s->bytes_written, bytes - before, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.bytes_out, bytes - before, memory_order_relaxed);
    if (!rc && fsync(f->fd) < 0)
        rc = -errno;
    if (close(f->fd) < 0 && !rc)
        rc = -errno;
    f->fd = -1;
    char used[PATH_MAX + 32];
    if (!rc)
        rc = sl_fs_rename_unique(f->tmp, f->final, SL_FS_VARIANT_STEM, used, sizeof(used));
    release_holds(f, rc == 0); /* a batch with a row not written failed in write() */
    if (rc) {
        sl_error(c->name, "cannot finish %s: %s (left as %s)", f->final, sl_strerror(rc), f->tmp);
    } else {
        atomic_fetch_add_explicit(&s->files_finished, 1, memory_order_relaxed);
        sl_info(c->name, "finished file path=%s type=%s rows=%llu bytes=%llu", used,
                f->type ? f->type : "", (unsigned long long)rows, (unsigned long long)bytes);
        if (s->hook) {
            struct sl_parquet_finished n = {
                .path = used, .type = f->type ? f->type : "", .rows = rows, .bytes = bytes};
            s->hook(s->hook_ctx, &n);
        }
    }
    atomic_fetch_sub_explicit(&s->open_writers, 1, memory_order_relaxed);
    s->nopen--;
    free_file(f);
}

static void finish_where(struct sl_component *c, struct pqs_sink *s, int64_t now_mono, bool all)
{
    const struct pqs_conf *cf = c->conf;
    struct pqs_file **pp = &s->files;
    while (*pp) {
        struct pqs_file *f = *pp;
        bool roll = all || now_mono - f->opened_mono_ns >= cf->roll_interval ||
                    (cf->roll_rows && sl_pq_writer_rows(f->w) >= (uint64_t)cf->roll_rows) ||
                    (cf->roll_bytes &&
                     sl_pq_writer_bytes(f->w) + sl_pq_writer_buffered(f->w) >= cf->roll_bytes);
        if (roll) {
            *pp = f->next;
            finish_file(c, s, f);
        } else {
            pp = &f->next;
        }
    }
}

static int open_file(struct sl_component *c, struct pqs_sink *s, const struct sl_event *ev,
                     struct pqs_file **out)
{
    const struct pqs_conf *cf = c->conf;
    const char *final = s->rendered.ptr;
    int rc = sl_fs_mkdir_parents(final);
    if (rc)
        return rc;
    const char *slash = strrchr(final, '/');
    size_t dlen = slash ? (size_t)(slash - final + 1) : 0;
    size_t tlen = strlen(final) + 32;
    char *tmp = sl_xmalloc(tlen);
    static atomic_uint seq;
    snprintf(tmp, tlen, "%.*s.%s.%u.tmp", (int)dlen, final, final + dlen,
             atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        sl_free(tmp);
        return rc;
    }
    struct sl_pq_schema *schema = NULL;
    if (s->schema_json &&
        (rc = sl_pq_schema_parse(s->schema_json, s->schema_len, &schema, NULL)) != 0) {
        close(fd);
        unlink(tmp);
        sl_free(tmp);
        return rc;
    }
    struct pqs_file *f = sl_xcalloc(1, sizeof(*f));
    f->final = sl_xstrdup(final);
    f->tmp = tmp;
    f->fd = fd;
    f->opened_mono_ns = sl_clock_mono_ns();
    struct sl_pq_opts o = {.codec = (enum sl_pq_codec)cf->codec,
                           .row_group_bytes = cf->row_group_size};
    f->w = sl_pq_writer_new(schema, &o, sl_pq_write_fd, &f->fd);
    if (s->partition) {
        const struct sl_value *v = sl_path_get(s->partition, ev);
        sl_buf_reset(&s->scratch);
        struct sl_str t = v ? sl_value_to_text(v, &s->scratch) : sl_str_make("", 0);
        f->type = sl_xstrndup(t.ptr ? t.ptr : "", t.len);
        sl_pq_writer_kv(f->w, "sluice.message_type", f->type);
    }
    sl_pq_writer_kv(f->w, "sluice.writer", "sluice " SL_VERSION);
    sl_pq_writer_kv(f->w, "sluice.source", c->name);
    /* the leading "PAR1" the writer wrote: counted so bytes_written adds up to the files */
    atomic_fetch_add_explicit(&s->bytes_written, sl_pq_writer_bytes(f->w), memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.bytes_out, sl_pq_writer_bytes(f->w), memory_order_relaxed);
    f->next = s->files;
    s->files = f;
    s->nopen++;
    atomic_fetch_add_explicit(&s->open_writers, 1, memory_order_relaxed);
    *out = f;
    return 0;
}

/* ---- ops */

/* A dead letter for <name>.errors (counted there by sl_sink_emit_errors). */
static void dead_letter(struct sl_component *c, struct sl_batch **errs, const struct sl_event *ev,
                        const char *msg)
{
    if (!*errs)
        *errs = sl_batch_new();
    if (sl_error_event_for(*errs, c->name, msg, ev))
        atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed); /* OOM: still counted */
}

static void on_reject(struct sl_component *c, struct sl_batch **errs, const struct sl_event *ev,
                      const struct sl_pq_reject *rej)
{
    struct pqs_sink *s = c->state;
    atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
    char msg[512];
    snprintf(msg, sizeof msg, "event does not fit the schema: field=%s reason=%s", rej->field,
             rej->reason);
    dead_letter(c, errs, ev, msg);
    sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, c->name, "%s (dead letter)", msg);
}

static int pqs_write(struct sl_component *c, struct sl_batch *b)
{
    const struct pqs_conf *cf = c->conf;
    struct pqs_sink *s = c->state;
    int64_t now = sl_clock_wall_ns();
    time_t t = (time_t)(now / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    s->now_sec = (int64_t)t;
    finish_where(c, s, sl_clock_mono_ns(), false);
    struct pqs_file *last = NULL;
    struct sl_batch *errs = NULL;
    int failed = 0;
    s->write_gen++;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        int rc = render_path(s, ev, &tm);
        if (rc) {
            char msg[160];
            snprintf(msg, sizeof msg, "no file name for the event (path template): %s",
                     sl_strerror(rc));
            dead_letter(c, &errs, ev, msg);
            sl_log_ratelimited(&s->lim, 5, SL_LOG_WARN, c->name, "%s", msg);
            continue;
        }
        struct pqs_file *f = last && !strcmp(last->final, s->rendered.ptr) ? last : NULL;
        for (struct pqs_file *g = s->files; !f && g; g = g->next)
            if (!strcmp(g->final, s->rendered.ptr))
                f = g;
        if (!f) {
            if (s->nopen >= cf->max_open) { /* finish the oldest (the list's tail) */
                struct pqs_file **pp = &s->files;
                while ((*pp)->next)
                    pp = &(*pp)->next;
                struct pqs_file *old = *pp;
                *pp = NULL;
                finish_file(c, s, old);
            }
            if ((rc = open_file(c, s, ev, &f)) != 0) {
                atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
                sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "cannot open %s: %s",
                                   s->rendered.ptr, sl_strerror(rc));
                failed = rc;
                continue;
            }
        }
        last = f;
        if (b->ack && f->held_gen != s->write_gen) {
            if (f->nholds == f->cap_holds) {
                f->cap_holds = f->cap_holds ? 2 * f->cap_holds : 8;
                f->holds = sl_xrealloc(f->holds, f->cap_holds * sizeof *f->holds);
            }
            f->holds[f->nholds++] = sl_sink_hold(b);
            f->held_gen = s->write_gen;
        }
        uint64_t before = sl_pq_writer_bytes(f->w);
        struct sl_pq_reject rej;
        rej.field[0] = rej.reason[0] = 0;
        rc = sl_pq_append_event(f->w, ev, &rej);
        uint64_t after = sl_pq_writer_bytes(f->w);
        atomic_fetch_add_explicit(&s->bytes_written, after - before, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->m.bytes_out, after - before, memory_order_relaxed);
        if (rc && rej.reason[0]) {
            on_reject(c, &errs, ev, &rej);
        } else if (rc) {
            sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "writing %s: %s", f->final,
                               sl_strerror(rc));
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            failed = rc;
        } else if ((cf->roll_rows && sl_pq_writer_rows(f->w) >= (uint64_t)cf->roll_rows) ||
                   (cf->roll_bytes && after + sl_pq_writer_buffered(f->w) >= cf->roll_bytes)) {
            struct pqs_file **pp = &s->files;
            while (*pp != f)
                pp = &(*pp)->next;
            *pp = f->next;
            finish_file(c, s, f);
            last = NULL;
        }
    }
    /* per-event failures are counted (errors) and logged above; the source reads the batch
     * again if it can (core/ack.h) */
    if (failed)
        sl_ack_fail(b->ack);
    if (errs)
        sl_sink_emit_errors(c, errs);
    return 0;
}

static int pqs_flush(struct sl_component *c)
{
    finish_where(c, c->state, sl_clock_mono_ns(), false);
    return 0;
}

/* All input written (end of input, shutdown): finish every open file on the sink's thread,
 * so the finished-file hook runs there and the counters are final before the pipeline is
 * freed. */
static void pqs_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    if (c->state)
        finish_where(c, c->state, 0, true);
}

static size_t pqs_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct pqs_sink *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_parquet_bytes_written_total",
                                   "Parquet bytes written (finished and open files)", false,
                                   (double)atomic_load(&s->bytes_written)};
    out[1] = (struct sl_comp_stat){"sluice_parquet_files_finished_total",
                                   "Parquet files finished (renamed to their final name)", false,
                                   (double)atomic_load(&s->files_finished)};
    out[2] = (struct sl_comp_stat){"sluice_parquet_open_writers", "Parquet files open now", true,
                                   (double)atomic_load(&s->open_writers)};
    out[3] = (struct sl_comp_stat){"sluice_parquet_rejected_total",
                                   "events that did not fit the schema (dead letters)", false,
                                   (double)atomic_load(&s->rejected)};
    return 4;
}

static void pqs_fini(struct sl_component *c)
{
    struct pqs_sink *s = c->state;
    if (!s)
        return;
    finish_where(c, s, 0, true);
    for (size_t i = 0; i < s->nparts; i++) {
        sl_free(s->parts[i].text);
        if (s->parts[i].field) {
            sl_path_fini(s->parts[i].field);
            sl_free(s->parts[i].field);
        }
    }
    sl_free(s->parts);
    if (s->partition) {
        sl_path_fini(s->partition);
        sl_free(s->partition);
    }
    sl_free(s->schema_json);
    sl_buf_fini(&s->name);
    sl_buf_fini(&s->rendered);
    sl_buf_fini(&s->prev_name);
    sl_buf_fini(&s->scratch);
    sl_free(s);
    c->state = NULL;
}

static int add_part(struct pqs_sink *s, const char *p, size_t n, bool field)
{
    s->parts = sl_xrealloc(s->parts, (s->nparts + 1) * sizeof(*s->parts));
    struct pqs_part *pt = &s->parts[s->nparts++];
    pt->text = sl_xstrndup(p, n);
    pt->field = NULL;
    if (!field)
        return 0;
    pt->field = sl_xcalloc(1, sizeof(*pt->field));
    int rc = sl_path_init(pt->field, pt->text);
    if (rc) {
        sl_free(pt->field);
        pt->field = NULL;
    }
    return rc;
}

static int load_schema_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct sl_buf b;
    sl_buf_init(&b, (size_t)16 << 20);
    char tmp[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = sl_buf_append(&b, tmp, n);
    fclose(f);
    if (rc) {
        sl_buf_fini(&b);
        return rc;
    }
    *out = sl_buf_steal(&b, len);
    if (!*out) {
        *out = sl_xstrdup("");
        *len = 0;
    }
    return 0;
}

static int pqs_init(struct sl_component *c, struct sl_diag *d)
{
    const struct pqs_conf *cf = c->conf;
    struct pqs_sink *s = sl_xcalloc(1, sizeof(*s));
    s->c = c;
    sl_buf_init(&s->name, PATH_MAX * 2);
    sl_buf_init(&s->rendered, PATH_MAX * 2);
    sl_buf_init(&s->prev_name, PATH_MAX * 2);
    s->prev_sec = -1;
    sl_buf_init(&s->scratch, 1 << 20);
    c->state = s;
    int rc = 0;
    /* the path template: {field} parts */
    const char *p = cf->path, *lit = p;
    bool uses_partition = false;
    while (*p) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            if (!e || e == p + 1) {
                sl_component_diag_opt(c, "path", d);
                sl_diag_hint(d, "{field} names a field of the event, e.g. out/{type}.parquet");
                rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': bad {field} in path \"%s\"",
                                 c->name, cf->path);
                goto fail;
            }
            if (p > lit)
                add_part(s, lit, (size_t)(p - lit), false);
            if ((rc = add_part(s, p + 1, (size_t)(e - p - 1), true)) != 0) {
                sl_component_diag_opt(c, "path", d);
                rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': bad field path in \"%s\"",
                                 c->name, cf->path);
                goto fail;
            }
            if (cf->partition_by && strlen(cf->partition_by) == (size_t)(e - p - 1) &&
                !strncmp(p + 1, cf->partition_by, (size_t)(e - p - 1)))
                uses_partition = true;
            p = lit = e + 1;
            continue;
        }
        if (*p == '%')
            s->has_time = true;
        p++;
    }
    if (p > lit)
        add_part(s, lit, (size_t)(p - lit), false);
    if (!cf->path[0] || cf->path[strlen(cf->path) - 1] == '/') {
        sl_component_diag_opt(c, "path", d);
        rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': path must name a file", c->name);
        goto fail;
    }
    if (cf->partition_by) {
        if (!uses_partition) {
            sl_component_diag_opt(c, "partition_by", d);
            sl_diag_hint(d, "e.g. path: out/{%s}/%%Y%%m%%d-%%H%%M%%S.parquet", cf->partition_by);
            rc = sl_diag_set(d, SL_ECONFIG,
                             "parquet sink '%s': path must use {%s} to partition by it", c->name,
                             cf->partition_by);
            goto fail;
        }
        s->partition = sl_xcalloc(1, sizeof(*s->partition));
        if ((rc = sl_path_init(s->partition, cf->partition_by)) != 0) {
            sl_free(s->partition);
            s->partition = NULL;
            sl_component_diag_opt(c, "partition_by", d);
            rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': bad field path", c->name);
            goto fail;
        }
    }
    /* schema */
    if (cf->schema.json && cf->schema_file) {
        sl_component_diag_opt(c, "schema_file", d);
        rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': schema and schema_file both set",
                         c->name);
        goto fail;
    }
    if (cf->schema.json) {
        s->schema_json = sl_xstrndup(cf->schema.json, cf->schema.len);
        s->schema_len = cf->schema.len;
    } else if (cf->schema_file &&
               (rc = load_schema_file(cf->schema_file, &s->schema_json, &s->schema_len)) != 0) {
        sl_component_diag_opt(c, "schema_file", d);
        rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': cannot read %s: %s", c->name,
                         cf->schema_file, sl_strerror(rc));
        goto fail;
    }
    if (s->schema_json) {
        struct sl_pq_schema *sch = NULL;
        struct sl_diag sd;
        sl_diag_init(&sd);
        if ((rc = sl_pq_schema_parse(s->schema_json, s->schema_len, &sch, &sd)) != 0) {
            sl_component_diag_opt(c, cf->schema.json ? "schema" : "schema_file", d);
            if (cf->schema.json && sd.line) {
                uint32_t line = sd.line, col = sd.col;
                sl_tree_opt_pos(&cf->schema, &line, &col);
                d->line = line;
                d->col = col;
            }
            if (sd.hint[0])
                sl_diag_hint(d, "%s", sd.hint);
            rc = sl_diag_set(d, SL_ECONFIG, "parquet sink '%s': %s", c->name, sd.msg);
            goto fail;
        }
        sl_pq_schema_free(sch);
    }
    return 0;
fail:
    pqs_fini(c);
    return rc;
}

const struct sl_component_ops sl_out_parquet_ops = {
    .type = "parquet",
    .kind = SL_KIND_SINK,
    .summary = "write Parquet files (partitioned, rolled, renamed when complete)",
    .options = pqs_opts,
    .conf_len = sizeof(struct pqs_conf),
    .init = pqs_init,
    .fini = pqs_fini,
    .write = pqs_write,
    .flush = pqs_flush,
    /* flush only finishes files past roll_interval: every 100 ms keeps a file at most
     * roll_interval + 0.1 s old (the aggregator's batchTime is a delay users wait on) */
    .flush_interval_ns = 100000000,
    .stats = pqs_stats,
    .finish = pqs_finish,
};
