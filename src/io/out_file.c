/*
 * out_file.c — the `file` sink: events as NDJSON (one JSON object per line) in files that
 * are written under a temporary name and renamed atomically when finished.
 *
 * Naming. `path` is a strftime template rendered in UTC when a file opens
 * ("out/events-%Y%m%d.json"). The file being written is `<rendered>.tmp`; when it is
 * finished (rotation, a new rendered name, or shutdown) it is renamed to its final name:
 *   - no rotation:  exactly the rendered path;
 *   - rotation on:  the rendered path with `-<yyyymmddTHHMMSS>-<seq>` inserted before the
 *     extension (`out.json` -> `out-20240102T030405-1.json`), the time being when the file
 *     was opened (UTC) and seq counting the files this sink finished since start.
 * A final name that already exists is never overwritten: `.1`, `.2`, ... is appended
 * (rename with RENAME_NOREPLACE, so two processes cannot race into one name). A `.tmp` left by
 * a crash is continued (appended to) when the same name is opened again, so it is not lost.
 *
 * Rotation: by size (`rotate_bytes`: a new file once this many bytes are written, checked
 * per event so a file exceeds it by less than one event), by age (`rotate_interval`,
 * checked at each write and at each flush, i.e. every second), and whenever the rendered
 * template changes (a `%Y%m%d` path moves to a new file at midnight UTC).
 *
 * DESIGN: sink thread only. A batch is rendered into one buffer and written with one
 * write(2). A failed write (disk full) is undone with ftruncate() to the length before the
 * batch, so the file never holds a torn line; the batch is reported as failed (the core
 * counts its events as errors) and the error is logged once per episode (sl_outage: at the
 * first failure, a reminder a minute, and when writes succeed again). Files open
 * lazily at the first event, so `sluice check` and an idle sink create nothing; init only
 * checks that the directory could be created and written. `fsync: true` makes each flush
 * (every second) and each finish call fdatasync() first.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/outage.h"
#include "codec/json.h"
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

struct file_conf {
    char *path;
    uint64_t rotate_bytes;
    int64_t rotate_interval;
    bool fsync;
};

struct file_sink {
    int fd;                 /* -1: no file open */
    char cur[PATH_MAX];     /* rendered path of the open file */
    char tmp[PATH_MAX + 8]; /* cur + ".tmp": what is being written */
    int64_t opened_wall_ns; /* for the final name */
    int64_t opened_mono_ns; /* for rotate_interval */
    uint64_t file_bytes;    /* length of the open file */
    uint32_t seq;           /* files finished so far */
    bool dirty;             /* written since the last fdatasync */
    /* fsync: true — delivery holds (core/ack.h) of the batches written since the last
     * fdatasync, released by it; without fsync a batch is acknowledged once write(2) took it
     * (it survives a crash of the process, not of the machine) */
    struct sl_ack **holds;
    size_t nholds, cap_holds;
    bool templated; /* the path has strftime parts */
    struct sl_buf out;
    struct sl_log_limit lim;
    struct sl_outage wfail; /* writes failing (disk full): logged once per episode */
};

#define OUT_MAX  ((size_t)512 << 20) /* one event larger than this is not written */
#define WRITE_AT ((size_t)8 << 20)   /* a huge batch goes out in pieces of this size */

static const struct sl_option file_opts[] = {
    {"path", SL_OPT_STRING, NULL, offsetof(struct file_conf, path),
     "output file; strftime parts (%Y-%m-%d) are rendered in UTC when a file opens; written as "
     "<path>.tmp and renamed when finished",
     NULL, 0, 0, SL_OPT_REQUIRED},
    {"rotate_bytes", SL_OPT_SIZE, "0", offsetof(struct file_conf, rotate_bytes),
     "start a new file after this many bytes (0: never)", NULL, 0, 0, 0},
    {"rotate_interval", SL_OPT_DURATION, "0", offsetof(struct file_conf, rotate_interval),
     "start a new file after this long (0: never)", NULL, 0, 0, 0},
    {"fsync", SL_OPT_BOOL, "false", offsetof(struct file_conf, fsync),
     "fdatasync at every flush (each second) and before a file is renamed", NULL, 0, 0, 0},
    {0},
};

/* Render the template at wall time now_ns (UTC). Returns the length, 0 when it does not fit
 * or renders empty. */
static size_t render(const char *tmpl, int64_t now_ns, char *out, size_t out_len)
{
    time_t t = (time_t)(now_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* the template is the user's path; strftime reads nothing but tm */
    size_t n = strftime(out, out_len, tmpl, &tm);
#pragma GCC diagnostic pop
    return n;
}

static bool rotating(const struct file_conf *cf)
{
    return cf->rotate_bytes || cf->rotate_interval;
}

/* The final name of the open file. */
static void final_name(const struct file_conf *cf, const struct file_sink *s, char *out,
                       size_t out_len)
{
    if (!rotating(cf)) {
        snprintf(out, out_len, "%s", s->cur);
        return;
    }
    time_t t = (time_t)(s->opened_wall_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    const char *base = strrchr(s->cur, '/');
    base = base ? base + 1 : s->cur;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) /* no extension, or a dot file */
        dot = base + strlen(base);
    snprintf(out, out_len, "%.*s-%s-%u%s", (int)(dot - s->cur), s->cur, stamp, s->seq, dot);
}

static void release_holds(struct file_sink *s, bool ok)
{
    for (size_t i = 0; i < s->nholds; i++)
        sl_ack_release(s->holds[i], ok);
    s->nholds = 0;
}

/* Close the open file and give it its final name. */
static int finish(struct sl_component *c, struct file_sink *s)
{
    const struct file_conf *cf = c->conf;
    if (s->fd < 0)
        return 0;
    int rc = 0;
    if (cf->fsync && fdatasync(s->fd) < 0)
        rc = -errno;
    if (close(s->fd) < 0 && !rc)
        rc = -errno;
    release_holds(s, rc == 0);
    s->fd = -1;
    s->file_bytes = 0;
    s->dirty = false;
    s->seq++;
    char want[PATH_MAX + 64], used[PATH_MAX + 80];
    final_name(cf, s, want, sizeof(want));
    int rrc = sl_fs_rename_unique(s->tmp, want, SL_FS_VARIANT_END, used, sizeof(used));
    if (rrc) {
        /* the data stays in the .tmp file: nothing is lost, say so loudly */
        sl_error(c->name, "cannot rename %s to %s: %s (the data stays in %s)", s->tmp, want,
                 sl_strerror(rrc), s->tmp);
        return rc ? rc : rrc;
    }
    if (strcmp(used, want) != 0)
        sl_warn(c->name, "%s exists: finished file renamed to %s", want, used);
    else
        sl_debug(c->name, "finished %s", used);
    return rc;
}

static int open_file(struct sl_component *c, struct file_sink *s)
{
    const struct file_conf *cf = c->conf;
    int64_t now = sl_clock_wall_ns();
    if (!render(cf->path, now, s->cur, sizeof(s->cur)))
        return SL_E2BIG;
    snprintf(s->tmp, sizeof(s->tmp), "%s.tmp", s->cur);
    int rc = sl_fs_mkdir_parents(s->tmp);
    if (rc)
        return rc;
    s->fd = open(s->tmp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0)
        return -errno;
    struct stat st;
    s->file_bytes = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (s->file_bytes)
        sl_info(c->name, "continuing %s (%llu bytes left by an earlier run)", s->tmp,
                (unsigned long long)s->file_bytes);
    s->opened_wall_ns = now;
    s->opened_mono_ns = sl_clock_mono_ns();
    return 0;
}

/* Finish the open file when it is too old or its rendered name has changed. */
static int rotate_by_time(struct sl_component *c, struct file_sink *s)
{
    const struct file_conf *cf = c->conf;
    if (s->fd < 0)
        return 0;
    if (cf->rotate_interval > 0 && sl_clock_mono_ns() - s->opened_mono_ns >= cf->rotate_interval)
        return finish(c, s);
    if (s->templated) {
        char now[PATH_MAX];
        size_t n = render(cf->path, sl_clock_wall_ns(), now, sizeof(now));
        if (n && strcmp(now, s->cur) != 0)
            return finish(c, s);
    }
    return 0;
}

/* Write the buffer to the open file (opening one if needed); all or nothing. */
static int emit(struct sl_component *c, struct file_sink *s)
{
    int rc = 0;
    if (!s->out.len)
        return 0;
    if (s->fd < 0 && (rc = open_file(c, s)) != 0)
        goto out;
    rc = sl_fd_write_all(s->fd, s->out.ptr, s->out.len);
    if (rc) {
        /* undo a partial write so the file never ends in a torn line */
        if (ftruncate(s->fd, (off_t)s->file_bytes) < 0)
            sl_error(c->name, "cannot truncate %s after a failed write: %s", s->tmp,
                     sl_strerror(-errno));
        goto out;
    }
    s->file_bytes += s->out.len;
    s->dirty = true;
    atomic_fetch_add_explicit(&c->m.bytes_out, s->out.len, memory_order_relaxed);
out:
    sl_buf_reset(&s->out);
    return rc;
}

static int file_write(struct sl_component *c, struct sl_batch *b)
{
    const struct file_conf *cf = c->conf;
    struct file_sink *s = c->state;
    int rc = rotate_by_time(c, s);
    sl_buf_reset(&s->out);
    for (uint32_t i = 0; i < b->count && !rc; i++) {
        size_t mark = s->out.len;
        int erc = sl_json_write_event(&s->out, &b->events[i]);
        if (!erc)
            erc = sl_buf_putc(&s->out, '\n');
        if (erc) {
            /* one event too large to render: skip it, keep the rest */
            s->out.len = mark;
            if (s->out.ptr)
                s->out.ptr[mark] = 0;
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "event not written: %s",
                               sl_strerror(erc));
            continue;
        }
        if (cf->rotate_bytes && s->file_bytes + s->out.len >= cf->rotate_bytes) {
            /* this file is full with this event: write it out and start the next one */
            if ((rc = emit(c, s)) == 0)
                rc = finish(c, s);
        } else if (s->out.len >= WRITE_AT) {
            rc = emit(c, s);
        }
    }
    if (!rc)
        rc = emit(c, s);
    sl_buf_reset(&s->out);
    if (!rc && cf->fsync && b->ack) {
        if (s->nholds == s->cap_holds) {
            s->cap_holds = s->cap_holds ? 2 * s->cap_holds : 16;
            s->holds = sl_xrealloc(s->holds, s->cap_holds * sizeof *s->holds);
        }
        s->holds[s->nholds++] = sl_sink_hold(b);
    }
    uint64_t failures;
    int64_t lasted;
    if (rc && sl_outage_fail(&s->wfail, sl_clock_mono_ns()))
        sl_error(c->name,
                 "cannot write %s: %s; batches fail until it can (a disk buffer retries them, "
                 "a source with checkpoints or acks replays them)",
                 s->fd >= 0 ? s->tmp : cf->path, sl_strerror(rc));
    else if (!rc && sl_outage_ok(&s->wfail, sl_clock_mono_ns(), &failures, &lasted))
        sl_info(c->name, "writes to %s succeed again after %.1f s (%llu failed batches)",
                s->fd >= 0 ? s->tmp : cf->path, (double)lasted / 1e9, (unsigned long long)failures);
    return rc;
}

static int file_flush(struct sl_component *c)
{
    const struct file_conf *cf = c->conf;
    struct file_sink *s = c->state;
    int rc = rotate_by_time(c, s);
    if (!rc && s->fd >= 0 && cf->fsync && s->dirty) {
        if (fdatasync(s->fd) < 0)
            rc = -errno;
        else
            s->dirty = false;
    }
    /* after a failed fdatasync the pages may be gone and a later one succeed: the batches
     * written so far are failed now, not acknowledged by that later one */
    if (!s->dirty || rc)
        release_holds(s, rc == 0);
    if (rc)
        sl_log_ratelimited(&s->lim, 2, SL_LOG_ERROR, c->name, "flush: %s", sl_strerror(rc));
    return rc;
}

static void file_fini(struct sl_component *c)
{
    struct file_sink *s = c->state;
    if (!s)
        return;
    emit(c, s);
    finish(c, s);
    release_holds(s, false);
    sl_free(s->holds);
    sl_buf_fini(&s->out);
    sl_free(s);
    c->state = NULL;
}

static int file_init(struct sl_component *c, struct sl_diag *d)
{
    const struct file_conf *cf = c->conf;
    char path[PATH_MAX];
    size_t n = cf->path[0] ? render(cf->path, sl_clock_wall_ns(), path, sizeof(path)) : 0;
    if (!n || path[n - 1] == '/' || n + 4 >= sizeof(path)) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "a file name such as out/events-%%Y%%m%%d.json");
        return sl_diag_set(d, SL_ECONFIG, "file sink '%s': path \"%s\" is %s", c->name, cf->path,
                           !n ? "empty or too long" : "not a file name");
    }
    if (cf->rotate_interval < 0) {
        sl_component_diag_opt(c, "rotate_interval", d);
        sl_diag_hint(d, "0 (never) or a duration such as 1h");
        return sl_diag_set(d, SL_ECONFIG, "rotate_interval must not be negative");
    }
    int rc = sl_fs_check_writable(path);
    if (rc) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "the directory must exist and be writable, or be creatable under one "
                        "that is");
        return sl_diag_set(d, SL_ECONFIG, "file sink '%s': cannot write %s: %s", c->name, path,
                           sl_strerror(rc));
    }
    struct file_sink *s = sl_xcalloc(1, sizeof(*s));
    s->fd = -1;
    s->templated = strchr(cf->path, '%') != NULL;
    sl_buf_init(&s->out, OUT_MAX);
    c->state = s;
    return 0;
}

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
