/*
 * in_file.c — the `file` source: JSON lines or raw lines from files named by paths or globs,
 * read once to the end (`mode: read`) or followed like `tail -F` (`mode: tail`).
 *
 * DESIGN: one thread (the source's) reads every file with plain read(2) into one buffer and
 * feeds each file's own line reader (io/linereader.c), which copies lines into batch memory
 * and parses them there. Tail mode polls every 200 ms (cheap, works on every filesystem,
 * and is what tail -F does without inotify): it reads what was appended, notices rotation
 * (the path now names another inode: the old file is read to its end first, then the new
 * one from its start) and truncation (size below the read position: start over), and
 * rescans the globs every second for files that appear later, which are read from their
 * start. Between polls it flushes partial batches so a slow file is not held back.
 * Back-pressure: sl_source_emit() waits while the pipeline is full, so reading waits.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "core/component.h"
#include "io/linereader.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MODE_READ, MODE_TAIL };
enum { START_END, START_BEGINNING };

struct file_conf {
    struct sl_strlist path;
    int format;
    int mode;
    int start_at;
    uint64_t max_line;
    char *message_field;
    uint64_t read_buffer;
};

struct watched {
    char *path;
    int fd;
    dev_t dev;
    ino_t ino;
    off_t pos;
    struct sl_linereader *r;
    bool gone; /* the path vanished; keep reading the open fd */
};

struct file_state {
    struct watched *files;
    size_t nfiles;
    char *buf;
    size_t buf_len;
    sl_sym msg;
};

static int file_init(struct sl_component *c, struct sl_diag *d)
{
    struct file_conf *cf = c->conf;
    if (!cf->path.count) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "path: [\"/var/log/app/*.json\"]");
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': no path", c->name);
    }
    if (cf->read_buffer < 4096) {
        sl_component_diag_opt(c, "read_buffer", d);
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': read_buffer must be >= 4KiB", c->name);
    }
    struct file_state *s = sl_xcalloc(1, sizeof(*s));
    s->buf_len = cf->read_buffer;
    s->buf = sl_xmalloc(s->buf_len);
    s->msg = sl_sym_intern_c(cf->message_field);
    c->state = s;
    return 0;
}

static void close_watched(struct watched *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    sl_linereader_free(w->r);
    w->r = NULL;
}

static void file_fini(struct sl_component *c)
{
    struct file_state *s = c->state;
    if (!s)
        return;
    for (size_t i = 0; i < s->nfiles; i++) {
        close_watched(&s->files[i]);
        sl_free(s->files[i].path);
    }
    sl_free(s->files);
    sl_free(s->buf);
    sl_free(s);
}

/* A reader whose line numbers and offsets are those of the file from `pos` on. */
static struct sl_linereader *new_reader(struct sl_component *c, const char *path, uint64_t line,
                                        uint64_t pos)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    struct sl_linereader_opts o = {.format = cf->format ? SL_LINES_RAW : SL_LINES_JSON,
                                   .max_line = cf->max_line,
                                   .message_field = s->msg,
                                   .where = path,
                                   .first_line = line,
                                   .first_offset = pos};
    return sl_linereader_new(c, &o);
}

/* Lines before `end` (so that dead letters of a file followed from its end carry the
 * file's real line numbers). Reads the file once at start-up. */
static uint64_t count_lines(struct sl_component *c, int fd, off_t end)
{
    struct file_state *s = c->state;
    uint64_t lines = 0;
    off_t at = 0;
    while (at < end) {
        size_t want = (size_t)(end - at) < s->buf_len ? (size_t)(end - at) : s->buf_len;
        ssize_t n = pread(fd, s->buf, want, at);
        if (n <= 0)
            break;
        for (const char *p = s->buf, *e = s->buf + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            lines++;
        at += n;
    }
    return lines;
}

/* Read what is there now. Returns bytes read, or a negative code when the pipeline closed. */
static ssize_t drain(struct sl_component *c, struct watched *w, bool *eof)
{
    struct file_state *s = c->state;
    ssize_t total = 0;
    *eof = false;
    while (!sl_source_stopping(c)) {
        ssize_t n = read(w->fd, s->buf, s->buf_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sl_warn(c->name, "read %s: %s", w->path, strerror(errno));
            *eof = true;
            break;
        }
        if (n == 0) {
            *eof = true;
            break;
        }
        w->pos += n;
        total += n;
        if (sl_linereader_feed(w->r, s->buf, (size_t)n))
            return -1;
    }
    return total;
}

static int open_watched(struct sl_component *c, struct watched *w, bool at_end)
{
    w->fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (w->fd < 0)
        return -errno;
    struct stat st;
    fstat(w->fd, &st);
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    w->pos = 0;
    uint64_t line = 1;
    if (at_end && S_ISREG(st.st_mode)) {
        w->pos = lseek(w->fd, 0, SEEK_END);
        if (w->pos < 0)
            w->pos = 0;
        line += count_lines(c, w->fd, w->pos);
    }
    w->r = new_reader(c, w->path, line, (uint64_t)w->pos);
    w->gone = false;
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_mode(struct sl_component *c)
{
    struct file_conf *cf = c->conf;
    size_t files = 0;
    for (size_t i = 0; i < cf->path.count && !sl_source_stopping(c); i++) {
        glob_t g;
        int grc = glob(cf->path.items[i], GLOB_NOSORT | GLOB_BRACE, NULL, &g);
        if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
            sl_error(c->name, "no file matches %s", cf->path.items[i]);
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            if (grc == 0)
                globfree(&g);
            continue;
        }
        if (grc) {
            sl_error(c->name, "cannot expand %s", cf->path.items[i]);
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            continue;
        }
        /* in name order, so a run over rotated files is repeatable */
        qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_path);
        for (size_t k = 0; k < g.gl_pathc && !sl_source_stopping(c); k++) {
            struct watched w = {.path = g.gl_pathv[k], .fd = -1};
            int rc = open_watched(c, &w, false);
            if (rc) {
                sl_error(c->name, "cannot open %s: %s", w.path, strerror(-rc));
                atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
                continue;
            }
            bool eof;
            ssize_t n = drain(c, &w, &eof);
            if (n >= 0)
                sl_linereader_finish(w.r);
            sl_debug(c->name, "read %s: %llu lines", w.path,
                     (unsigned long long)sl_linereader_lines(w.r));
            close_watched(&w);
            files++;
            if (n < 0)
                break;
        }
        globfree(&g);
    }
    return 0;
}

static struct watched *find_watched(struct file_state *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return &s->files[i];
    return NULL;
}

/* Add files that match the globs and are not watched yet. */
static void rescan(struct sl_component *c, bool initial)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    for (size_t i = 0; i < cf->path.count; i++) {
        glob_t g;
        if (glob(cf->path.items[i], GLOB_BRACE, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            struct watched *w = find_watched(s, g.gl_pathv[k]);
            if (w && w->fd >= 0)
                continue;
            if (!w) {
                s->files = sl_xrealloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
                w = &s->files[s->nfiles++];
                memset(w, 0, sizeof(*w));
                w->path = sl_xstrdup(g.gl_pathv[k]);
                w->fd = -1;
            }
            /* files there at start: where start_at says; files that appear later: start */
            bool at_end = initial && cf->start_at == START_END;
            if (open_watched(c, w, at_end) == 0)
                sl_info(c->name, "following %s%s", w->path, at_end ? " from its end" : "");
        }
        globfree(&g);
    }
}

/* Rotation and truncation checks for one open file. */
static void check_rotation(struct sl_component *c, struct watched *w)
{
    struct stat st, cur;
    if (fstat(w->fd, &cur) == 0 && S_ISREG(cur.st_mode) && cur.st_size < w->pos) {
        sl_info(c->name, "%s was truncated: reading it from the start", w->path);
        sl_linereader_finish(w->r);
        sl_linereader_free(w->r);
        w->r = new_reader(c, w->path, 1, 0);
        lseek(w->fd, 0, SEEK_SET);
        w->pos = 0;
        return;
    }
    if (stat(w->path, &st) != 0) {
        w->gone = true; /* renamed away, not replaced yet: keep the fd */
        return;
    }
    if (st.st_ino != w->ino || st.st_dev != w->dev) {
        /* rotated: the rest of the old file was read by the caller just before */
        sl_info(c->name, "%s was rotated: following the new file", w->path);
        sl_linereader_finish(w->r);
        close_watched(w);
        if (open_watched(c, w, false) != 0)
            w->fd = -1;
    }
}

static int tail_mode(struct sl_component *c)
{
    struct file_state *s = c->state;
    rescan(c, true);
    int64_t ticks = 0;
    while (!sl_source_stopping(c)) {
        bool any = false;
        for (size_t i = 0; i < s->nfiles; i++) {
            struct watched *w = &s->files[i];
            if (w->fd < 0)
                continue;
            bool eof;
            ssize_t n = drain(c, w, &eof);
            if (n < 0)
                return 0;
            any |= n > 0;
            check_rotation(c, w);
        }
        if (!any) {
            for (size_t i = 0; i < s->nfiles; i++)
                if (s->files[i].r)
                    sl_linereader_flush(s->files[i].r);
            struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
            poll(&pfd, 1, 200);
            if (++ticks % 5 == 0)
                rescan(c, false);
        }
    }
    /* stopping: hand over what was read, including a last line without newline */
    for (size_t i = 0; i < s->nfiles; i++)
        if (s->files[i].r)
            sl_linereader_finish(s->files[i].r);
    return 0;
}

static int file_run(struct sl_component *c)
{
    struct file_conf *cf = c->conf;
    if (cf->mode == MODE_TAIL && !sl_source_once(c))
        return tail_mode(c);
    return read_mode(c);
}

static const struct sl_option file_opts[] = {
    {"path", SL_OPT_STRING_LIST, NULL, offsetof(struct file_conf, path),
     "files or globs (\"/var/log/zeek/*.json\")", NULL, 0, 0, SL_OPT_REQUIRED},
    {"format", SL_OPT_ENUM, "json", offsetof(struct file_conf, format),
     "json: one JSON object per line; lines: each line is a `message` string", "json|lines", 0, 0,
     0},
    {"mode", SL_OPT_ENUM, "read", offsetof(struct file_conf, mode),
     "read: read to the end once; tail: follow appends, rotation and new files (tail -F)",
     "read|tail", 0, 0, 0},
    {"start_at", SL_OPT_ENUM, "end", offsetof(struct file_conf, start_at),
     "tail mode: where to start in files that exist at start-up", "end|beginning", 0, 0, 0},
    {"max_line", SL_OPT_SIZE, "1MiB", offsetof(struct file_conf, max_line),
     "longer lines become dead letters", NULL, 0, 0, 0},
    {"message_field", SL_OPT_STRING, "message", offsetof(struct file_conf, message_field),
     "field that holds a raw line (format: lines)", NULL, 0, 0, 0},
    {"read_buffer", SL_OPT_SIZE, "1MiB", offsetof(struct file_conf, read_buffer),
     "bytes per read(2)", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_file_ops = {
    .type = "file",
    .kind = SL_KIND_SOURCE,
    .summary = "read JSON lines or raw lines from files (globs), once or following them (tail -F)",
    .options = file_opts,
    .conf_len = sizeof(struct file_conf),
    .init = file_init,
    .fini = file_fini,
    .run = file_run,
};
