/*
 * in_file.c — the `file` source: JSON lines, raw lines or Zeek logs from files named by paths or
 * globs, read once to the end (`mode: read`) or followed like `tail -F` (`mode: tail`).
 *
 * DESIGN: one thread (the source's) reads every file with plain read(2) into one buffer and
 * feeds each file's own line reader (io/linereader.c), which copies lines into batch memory
 * and parses them there. Back-pressure: sl_source_emit() waits while the pipeline is full,
 * so reading waits.
 *
 * Tail mode polls (every 100 ms while idle: cheap, works on every filesystem including NFS
 * and overlayfs, and is what tail -F does without inotify). Each round reads what was
 * appended to each file (at most POLL_READS buffers per file, so one busy file cannot starve
 * the others), then checks:
 *   - truncation: the open file is now shorter than the read position -> read it again
 *     from the start;
 *   - rotation: the path names another inode -> read the rest of the old file to its end,
 *     then follow the new file from its start;
 *   - removal: the path is gone -> keep reading the open file (a writer may still hold it)
 *     until it has been quiet for GONE_IDLE_NS, then close it.
 * The globs are rescanned every second; files that appear later are read from their start.
 * Partial batches are flushed at least every FLUSH_NS so a slow file is not held back by a
 * busy one. Files there at start-up begin at their end (start_at: end) with their lines
 * counted first, so dead letters still carry the file's real line numbers and offsets.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/outage.h"
#include "core/ack.h"
#include "core/component.h"
#include "io/in_file.h"
#include "io/linereader.h"
#include "sys/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MODE_READ, MODE_TAIL };
enum { START_END, START_BEGINNING };

#define POLL_MS      100
#define POLL_READS   16
#define FLUSH_NS     (150 * 1000000LL)
#define RESCAN_NS    (1000 * 1000000LL)
#define GONE_IDLE_NS (5000 * 1000000LL)
#define SAVE_NS      (250 * 1000000LL) /* checkpoints are written at most this often */
#define FP_LEN       256               /* bytes of a file's start that identify it */
#define CKPT_MAGIC   "sluice-file-checkpoints 1"

struct file_conf {
    struct sl_strlist path;
    int format;
    int mode;
    int start_at;
    uint64_t max_line;
    char *message_field;
    uint64_t read_buffer;
    char *checkpoints;
};

/* One batch in flight: where reading resumes once it (and those before it) are delivered. */
struct ckpt_token {
    struct sl_ack ack;
    struct ckpt_token *next;
    uint64_t offset, line;
};

/* The delivered position of one file, as the checkpoint file keeps it. Stable address
 * (linked list): the emit function of the file's reader points to it. */
struct position {
    struct position *next;
    struct sl_component *c;
    char *path;
    uint64_t dev, ino;
    uint64_t fp;                    /* sl_hash64 of the first fp_len bytes */
    uint32_t fp_len;                /* < FP_LEN while the file was shorter */
    uint64_t offset, line;          /* delivered up to here (line: the next line's number) */
    struct ckpt_token *head, *tail; /* in flight, in emit order */
    struct sl_linereader *r;        /* the open file's reader (live only) */
    bool live;                      /* a file of this run (else loaded and not matched yet) */
    bool dropped;                   /* the file was truncated: removed once its tokens are done */
    bool stuck; /* a batch failed: the position stays before it (a restart reads it again) */
};

struct watched {
    char *path;
    int fd; /* -1: not open (yet, or any more) */
    dev_t dev;
    ino_t ino;
    off_t pos;
    struct sl_linereader *r;
    struct position *ck; /* with checkpoints: this file's position */
    bool gone;           /* the path vanished; still reading the open fd */
    int64_t last_data;   /* mono ns of the last read that returned data */
};

struct file_state {
    struct watched *files; /* tail mode: every path seen */
    size_t nfiles;
    char *buf;
    size_t buf_len;
    sl_sym msg;
    struct sl_log_limit open_limit;
    struct position *positions; /* with checkpoints */
    bool dirty;                 /* a position moved since the last save */
    int64_t saved_at;
    uint64_t saves;
    struct sl_outage save_fail; /* saves failing (disk full): logged once per episode */
};

/* ------------------------------------------------------------------------------------------
 * Checkpoints (`checkpoints: FILE`): see docs/components/sources.md "Checkpoints".
 *
 * Each batch a file's reader emits carries a delivery token (core/ack.h) that records the
 * position after it; the source thread pops the tokens that are done, in emit order, and
 * moves the file's position; the checkpoint file is rewritten (write, fsync, rename) at most
 * once a second and when the source ends (fini runs after every sink released its holds). A
 * file is recognised on restart by a fingerprint of its first bytes (so a rotation while
 * sluice was down, or an inode reused by a new file, are told apart), then by path and inode.
 */

static uint64_t fingerprint(int fd, uint32_t *len_io)
{
    char buf[FP_LEN];
    ssize_t n = pread(fd, buf, *len_io, 0);
    if (n < 0)
        n = 0;
    *len_io = (uint32_t)n;
    return n ? sl_hash64(buf, (size_t)n) : 0;
}

static struct position *position_new(struct file_state *s, struct sl_component *c, const char *path)
{
    struct position *p = sl_xcalloc(1, sizeof *p);
    p->c = c;
    p->path = sl_xstrdup(path);
    p->line = 1;
    p->next = s->positions;
    s->positions = p;
    return p;
}

static void position_free(struct position *p)
{
    while (p->head) {
        struct ckpt_token *t = p->head;
        p->head = t->next;
        sl_free(t);
    }
    sl_free(p->path);
    sl_free(p);
}

/* Parse the checkpoint file. 0, or SL_EPARSE with FILE:LINE in d. A missing file is empty. */
static int ckpt_load(struct sl_component *c, struct sl_diag *d)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    FILE *f = fopen(cf->checkpoints, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        sl_component_diag_opt(c, "checkpoints", d);
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': cannot read checkpoints %s: %s",
                           c->name, cf->checkpoints, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    unsigned lineno = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (lineno == 1) {
            if (strcmp(line, CKPT_MAGIC) != 0)
                rc = SL_EPARSE;
            continue;
        }
        unsigned long long off, ln, dev, ino, fp;
        unsigned fl;
        int used = 0;
        if (sscanf(line, "%llu\t%llu\t%llu\t%llu\t%llx\t%u\t%n", &off, &ln, &dev, &ino, &fp, &fl,
                   &used) != 6 ||
            !used || !line[used] || fl > FP_LEN || ln < 1) {
            rc = SL_EPARSE;
            break;
        }
        struct position *p = position_new(s, c, line + used);
        p->offset = off;
        p->line = ln;
        p->dev = dev;
        p->ino = ino;
        p->fp = fp;
        p->fp_len = fl;
    }
    sl_free(line);
    fclose(f);
    if (rc) {
        sl_component_diag_opt(c, "checkpoints", d);
        sl_diag_hint(d, "remove the file to start over (files are then read as start_at says)");
        return sl_diag_set(d, SL_EPARSE, "file source '%s': %s:%u: not a checkpoint line", c->name,
                           cf->checkpoints, lineno);
    }
    return 0;
}

/* ---- fault injection (io/in_file.h): tests only; g_faults is NULL in production */

static struct sl_in_file_faults g_fault_conf;
static _Atomic(const struct sl_in_file_faults *) g_faults;
static atomic_uint_fast64_t g_nalloc, g_nwrite, g_nfsync, g_nrename, g_fired;

void sl_in_file_set_faults(const struct sl_in_file_faults *f)
{
    atomic_store(&g_faults, NULL);
    atomic_store(&g_nalloc, 0);
    atomic_store(&g_nwrite, 0);
    atomic_store(&g_nfsync, 0);
    atomic_store(&g_nrename, 0);
    atomic_store(&g_fired, 0);
    if (f) {
        g_fault_conf = *f;
        atomic_store(&g_faults, &g_fault_conf);
    }
}

uint64_t sl_in_file_faults_fired(void)
{
    return atomic_load(&g_fired);
}

/* True when the injected fault `nth` is due at this call (counted in *counter). */
static bool fault_due(atomic_uint_fast64_t *counter, size_t field)
{
    const struct sl_in_file_faults *f = atomic_load(&g_faults);
    if (!f)
        return false;
    uint64_t nth = *(const uint64_t *)((const char *)f + field);
    if (atomic_fetch_add(counter, 1) + 1 != nth || !nth)
        return false;
    atomic_fetch_add(&g_fired, 1);
    return true;
}

#define FAULT(counter, field) fault_due(&(counter), offsetof(struct sl_in_file_faults, field))

static int ckpt_write(int fd, const char *p, size_t n)
{
    if (FAULT(g_nwrite, fail_write_nth)) {
        (void)!write(fd, p, n / 2); /* half reaches the file, like a disk that filled up */
        return -ENOSPC;
    }
    return sl_fd_write_all(fd, p, n);
}

static int ckpt_fsync(int fd)
{
    if (FAULT(g_nfsync, fail_fsync_nth))
        return SL_EIO;
    return fsync(fd) == 0 ? 0 : -errno;
}

static int ckpt_rename(const char *from, const char *to)
{
    if (FAULT(g_nrename, fail_rename_nth))
        return -ENOSPC;
    return rename(from, to) == 0 ? 0 : -errno;
}

/* sl_buf_appendf through the allocation fault */
#define CKPT_APPENDF(b, ...)                                                                       \
    (FAULT(g_nalloc, fail_alloc_nth) ? SL_ENOMEM : sl_buf_appendf((b), __VA_ARGS__))

/* Write every position: a temporary file, fsync, rename over the old one, fsync the directory.
 * Any failure (disk full, no memory) leaves the old file whole and removes the temporary one
 * (its space goes back to a full disk); the positions stay in memory and the next save
 * (SAVE_NS later) tries again. A checkpoint that is older than the delivered position only
 * costs duplicates after a restart, never lines. */
static int ckpt_save(struct sl_component *c)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    struct sl_buf b;
    sl_buf_init(&b, 0);
    int rc = CKPT_APPENDF(&b, "%s\n", CKPT_MAGIC);
    for (struct position *p = s->positions; p && !rc; p = p->next) {
        if (strpbrk(p->path, "\t\n"))
            continue; /* cannot be written on one line: read again after a restart */
        rc = CKPT_APPENDF(&b, "%llu\t%llu\t%llu\t%llu\t%016llx\t%u\t%s\n",
                          (unsigned long long)p->offset, (unsigned long long)p->line,
                          (unsigned long long)p->dev, (unsigned long long)p->ino,
                          (unsigned long long)p->fp, p->fp_len, p->path);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", cf->checkpoints);
    int fd = -1;
    if (!rc && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        rc = -errno;
    if (!rc)
        rc = ckpt_write(fd, b.ptr, b.len);
    if (!rc)
        rc = ckpt_fsync(fd);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc)
        rc = ckpt_rename(tmp, cf->checkpoints);
    if (rc && fd >= 0)
        (void)unlink(tmp); /* the old file stays whole; give the space back */
    if (!rc) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", cf->checkpoints);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        int dfd = open(slash ? (slash == dir ? "/" : dir) : ".", O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    sl_buf_fini(&b);
    int64_t now = sl_clock_mono_ns();
    if (rc) {
        atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
        if (sl_outage_fail(&s->save_fail, now))
            sl_error(c->name,
                     "cannot write checkpoints %s: %s; positions kept in memory, saving is "
                     "retried (a restart before it succeeds reads from the last saved "
                     "positions: duplicates, no loss)",
                     cf->checkpoints, sl_strerror(rc));
        return rc;
    }
    uint64_t failures;
    int64_t lasted;
    if (sl_outage_ok(&s->save_fail, now, &failures, &lasted))
        sl_info(c->name, "checkpoints %s saved again after %.1f s (%llu failed saves)",
                cf->checkpoints, (double)lasted / 1e9, (unsigned long long)failures);
    s->dirty = false;
    s->saves++;
    return 0;
}

/* Move positions past the batches delivered (in emit order); save when due (or now). */
static void ckpt_tick(struct sl_component *c, bool now)
{
    struct file_state *s = c->state;
    if (!s->positions && !s->dirty)
        return;
    for (struct position *p = s->positions; p; p = p->next) {
        while (p->head && sl_ack_done(&p->head->ack)) {
            struct ckpt_token *t = p->head;
            if (sl_ack_failed(&t->ack) && !p->stuck) {
                p->stuck = true;
                sl_warn(c->name,
                        "%s: a batch ending at byte %llu was not delivered: its checkpoint stays "
                        "at byte %llu (a restart reads from there again)",
                        p->path, (unsigned long long)t->offset, (unsigned long long)p->offset);
            }
            if (!p->stuck && (t->offset != p->offset || t->line != p->line)) {
                p->offset = t->offset;
                p->line = t->line;
                s->dirty = true;
            }
            p->head = t->next;
            if (!p->head)
                p->tail = NULL;
            sl_free(t);
        }
    }
    for (struct position **pp = &s->positions; *pp;) {
        struct position *p = *pp;
        if (p->dropped && !p->head) {
            *pp = p->next;
            position_free(p);
            s->dirty = true;
        } else {
            pp = &p->next;
        }
    }
    int64_t t = sl_clock_mono_ns();
    if (s->dirty && (now || t - s->saved_at >= SAVE_NS)) {
        ckpt_save(c);
        s->saved_at = t;
    }
}

/* The reader's emit function with checkpoints: a token per batch (events or dead letters). */
static int ckpt_emit(void *arg, struct sl_batch *b, bool is_errors)
{
    struct position *p = arg;
    struct sl_component *c = p->c;
    struct ckpt_token *t = sl_xcalloc(1, sizeof *t);
    sl_ack_init(&t->ack, NULL, NULL);
    sl_batch_set_ack(b, &t->ack);
    /* inside emit, the reader's position is the one after this batch */
    t->offset = sl_linereader_taken(p->r, &t->line);
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    int rc = is_errors ? sl_source_emit_errors(c, b) : sl_source_emit(c, b);
    sl_ack_release(&t->ack, rc == 0); /* the owner's hold */
    return rc;
}

/* Keep a fingerprint of the first FP_LEN bytes once the file has them. */
static void fp_refresh(struct watched *w)
{
    if (w->ck && w->ck->fp_len < FP_LEN && (uint64_t)w->pos > w->ck->fp_len) {
        uint32_t len = FP_LEN;
        w->ck->fp = fingerprint(w->fd, &len);
        w->ck->fp_len = len;
    }
}

/* The position of the file just opened at w (fd, dev, ino set): a saved one it matches (then
 * *resume is true), else a new one at 0. *known: a saved position had this path but did not
 * match (the file was replaced or truncated while sluice was down). */
static struct position *ckpt_attach(struct sl_component *c, struct watched *w, off_t size,
                                    bool *resume, bool *known)
{
    struct file_state *s = c->state;
    *resume = *known = false;
    struct position *best = NULL;
    int best_score = 0;
    for (struct position *p = s->positions; p; p = p->next) {
        if (p->live || p->dropped)
            continue; /* another open file's, or a truncated file's */
        bool same_path = strcmp(p->path, w->path) == 0;
        bool same_ino = p->dev == (uint64_t)w->dev && p->ino == (uint64_t)w->ino;
        if (same_path)
            *known = true;
        if ((uint64_t)size < p->offset)
            continue;
        int score = 0;
        if (p->fp_len) {
            uint32_t len = p->fp_len;
            if (fingerprint(w->fd, &len) != p->fp || len != p->fp_len)
                continue;
            score = 1 + same_path * 2 + same_ino;
        } else if (same_path && same_ino) {
            score = 1;
        }
        if (score > best_score) {
            best = p;
            best_score = score;
        }
    }
    if (best) {
        *resume = true;
        if (strcmp(best->path, w->path) != 0) {
            sl_info(c->name, "%s: resuming at byte %llu (it was %s)", w->path,
                    (unsigned long long)best->offset, best->path);
            sl_free(best->path);
            best->path = sl_xstrdup(w->path);
        }
    } else {
        best = position_new(s, c, w->path);
    }
    best->live = true;
    best->stuck = false;
    best->dev = (uint64_t)w->dev;
    best->ino = (uint64_t)w->ino;
    if (!*resume) {
        best->offset = 0;
        best->line = 1;
        best->fp_len = FP_LEN;
        best->fp = fingerprint(w->fd, &best->fp_len);
    }
    s->dirty = true;
    return best;
}

/* The file closed: its position stays (saved) for a restart, or goes when dropped (the file
 * was truncated: its old position means nothing). Tokens in flight still move it. */
static void ckpt_detach(struct watched *w)
{
    if (w->ck) {
        w->ck->live = false;
        w->ck->r = NULL;
    }
    w->ck = NULL;
}

static int file_init(struct sl_component *c, struct sl_diag *d)
{
    struct file_conf *cf = c->conf;
    if (!cf->path.count) {
        sl_component_diag_opt(c, "path", d);
        sl_diag_hint(d, "path: [\"/var/log/app/*.json\"]");
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': no path", c->name);
    }
    for (size_t i = 0; i < cf->path.count; i++) {
        if (!cf->path.items[i][0]) {
            sl_component_diag_opt(c, "path", d);
            return sl_diag_set(d, SL_ECONFIG, "file source '%s': empty path", c->name);
        }
    }
    /* tiny buffers are slow but correct (tests use them to split lines across reads) */
    if (cf->read_buffer < 1 || cf->read_buffer > (1ull << 30)) {
        sl_component_diag_opt(c, "read_buffer", d);
        sl_diag_hint(d, "read_buffer: 1MiB");
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': read_buffer must be 1B..1GiB",
                           c->name);
    }
    if (cf->max_line < 16 || cf->max_line > (1ull << 30)) {
        sl_component_diag_opt(c, "max_line", d);
        sl_diag_hint(d, "max_line: 1MiB");
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': max_line must be 16B..1GiB", c->name);
    }
    sl_sym msg = sl_sym_intern_c(cf->message_field ? cf->message_field : "message");
    if (!msg) {
        sl_component_diag_opt(c, "message_field", d);
        return sl_diag_set(d, SL_ECONFIG, "file source '%s': bad message_field", c->name);
    }
    struct file_state *s = sl_xcalloc(1, sizeof(*s));
    s->buf_len = cf->read_buffer;
    s->buf = sl_xmalloc(s->buf_len);
    s->msg = msg;
    c->state = s;
    if (cf->checkpoints) {
        int rc = sl_fs_mkdir_parents(cf->checkpoints);
        if (!rc)
            rc = sl_fs_check_writable(cf->checkpoints);
        if (rc) {
            sl_component_diag_opt(c, "checkpoints", d);
            return sl_diag_set(d, SL_ECONFIG, "file source '%s': checkpoints %s: %s", c->name,
                               cf->checkpoints, sl_strerror(rc));
        }
        rc = ckpt_load(c, d);
        if (rc)
            return rc;
    }
    return 0;
}

static void close_watched(struct watched *w)
{
    ckpt_detach(w);
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
    /* every sink released its holds by now (sources are freed last): the final positions */
    ckpt_tick(c, true);
    if (s->saves)
        sl_info(c->name, "checkpoints saved to %s", ((struct file_conf *)c->conf)->checkpoints);
    while (s->positions) {
        struct position *p = s->positions;
        s->positions = p->next;
        position_free(p);
    }
    sl_free(s->buf);
    sl_free(s);
    c->state = NULL;
}

/* A reader whose line numbers and offsets are those of the file from `pos` on. */
static struct sl_linereader *new_reader(struct sl_component *c, const char *path, uint64_t line,
                                        uint64_t pos)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    static const enum sl_line_format formats[] = {SL_LINES_JSON, SL_LINES_RAW, SL_LINES_ZEEK};
    struct sl_linereader_opts o = {.format = formats[cf->format],
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
    while (at < end && !sl_source_stopping(c)) {
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

/*
 * Read what is there now, at most `max_reads` buffers (0: to the end). Returns the bytes
 * read, or -1 when the pipeline closed. *eof: the end of the file was reached.
 */
static ssize_t drain(struct sl_component *c, struct watched *w, unsigned max_reads, bool *eof)
{
    struct file_state *s = c->state;
    ssize_t total = 0;
    *eof = false;
    for (unsigned k = 0; !max_reads || k < max_reads; k++) {
        if (sl_source_stopping(c))
            break;
        ssize_t n = read(w->fd, s->buf, s->buf_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            sl_warn(c->name, "read %s: %s", w->path, strerror(errno));
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            *eof = true;
            break;
        }
        if (n == 0) {
            *eof = true;
            break;
        }
        w->pos += n;
        total += n;
        fp_refresh(w);
        if (sl_linereader_feed(w->r, s->buf, (size_t)n))
            return -1;
        ckpt_tick(c, false);
    }
    if (total)
        w->last_data = sl_clock_mono_ns();
    return total;
}

/* Open w->path; at_end: start at the end of a regular file. 0 or a negative errno. */
static int open_watched(struct sl_component *c, struct watched *w, bool at_end)
{
    int fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return -e;
    }
    /* reads block on nothing but FIFOs; O_NONBLOCK was only for opening one */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    w->fd = fd;
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    w->pos = 0;
    uint64_t line = 1;
    struct file_conf *cf = c->conf;
    bool resume = false, known = false;
    if (cf->checkpoints && S_ISREG(st.st_mode))
        w->ck = ckpt_attach(c, w, st.st_size, &resume, &known);
    if (resume) {
        w->pos = lseek(fd, (off_t)w->ck->offset, SEEK_SET);
        if (w->pos < 0)
            w->pos = 0;
        line = w->ck->line;
        if (w->pos)
            sl_info(c->name, "%s: resuming at byte %lld, line %llu (checkpoint)", w->path,
                    (long long)w->pos, (unsigned long long)line);
    } else if (at_end && !known && S_ISREG(st.st_mode)) {
        w->pos = lseek(fd, 0, SEEK_END);
        if (w->pos < 0)
            w->pos = 0;
        line += count_lines(c, fd, w->pos);
        if (w->ck) {
            w->ck->offset = (uint64_t)w->pos;
            w->ck->line = line;
        }
    }
    w->r = new_reader(c, w->path, line, (uint64_t)w->pos);
    if (w->ck) {
        w->ck->r = w->r;
        sl_linereader_set_emit(w->r, ckpt_emit, w->ck);
    }
    w->gone = false;
    w->last_data = sl_clock_mono_ns();
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_magic(const char *p)
{
    return strpbrk(p, "*?[{") != NULL;
}

/* ---- read mode */

static bool seen_before(char **seen, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seen[i], path) == 0)
            return true;
    return false;
}

/* The size of everything read mode will read (for the progress of `run --once`). */
static uint64_t input_size(const struct file_conf *cf)
{
    uint64_t total = 0;
    for (size_t i = 0; i < cf->path.count; i++) {
        glob_t g;
        if (glob(cf->path.items[i], GLOB_NOSORT | GLOB_BRACE, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++) {
            struct stat st;
            if (stat(g.gl_pathv[k], &st) == 0 && S_ISREG(st.st_mode))
                total += (uint64_t)st.st_size;
        }
        globfree(&g);
    }
    return total;
}

static int read_mode(struct sl_component *c)
{
    struct file_conf *cf = c->conf;
    char **seen = NULL; /* paths read already (two globs may match the same file) */
    size_t nseen = 0;
    bool closed = false;
    atomic_store_explicit(&c->m.bytes_total, input_size(cf), memory_order_relaxed);
    for (size_t i = 0; i < cf->path.count && !closed && !sl_source_stopping(c); i++) {
        const char *pat = cf->path.items[i];
        glob_t g;
        int grc = glob(pat, GLOB_NOSORT | GLOB_BRACE, NULL, &g);
        if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
            if (has_magic(pat)) {
                sl_warn(c->name, "no file matches %s", pat);
            } else {
                sl_error(c->name, "cannot open %s: %s", pat, strerror(ENOENT));
                atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            }
            if (grc == 0)
                globfree(&g);
            continue;
        }
        if (grc) {
            sl_error(c->name, "cannot expand %s", pat);
            atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
            continue;
        }
        /* in name order, so a run over rotated files is repeatable */
        qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), cmp_path);
        for (size_t k = 0; k < g.gl_pathc && !sl_source_stopping(c); k++) {
            if (seen_before(seen, nseen, g.gl_pathv[k]))
                continue;
            seen = sl_xrealloc(seen, (nseen + 1) * sizeof(*seen));
            seen[nseen++] = sl_xstrdup(g.gl_pathv[k]);
            struct watched w = {.path = g.gl_pathv[k], .fd = -1};
            int rc = open_watched(c, &w, false);
            if (rc) {
                sl_error(c->name, "cannot open %s: %s", w.path, strerror(-rc));
                atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
                continue;
            }
            bool eof;
            ssize_t n = drain(c, &w, 0, &eof);
            if (n < 0 || sl_linereader_finish(w.r))
                closed = true;
            sl_debug(c->name, "read %s: %llu lines", w.path,
                     (unsigned long long)sl_linereader_lines(w.r));
            close_watched(&w);
            if (closed)
                break;
        }
        globfree(&g);
    }
    for (size_t i = 0; i < nseen; i++)
        sl_free(seen[i]);
    sl_free(seen);
    return 0;
}

/* ---- tail mode */

static struct watched *find_watched(struct file_state *s, const char *path)
{
    for (size_t i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return &s->files[i];
    return NULL;
}

/* Add files that match the globs and are not open. */
static void rescan(struct sl_component *c, bool initial)
{
    struct file_conf *cf = c->conf;
    struct file_state *s = c->state;
    for (size_t i = 0; i < cf->path.count; i++) {
        glob_t g;
        int grc = glob(cf->path.items[i], GLOB_BRACE, NULL, &g);
        if (grc != 0) {
            if (initial)
                sl_info(c->name, "no file matches %s yet: waiting for one", cf->path.items[i]);
            if (grc != GLOB_NOMATCH)
                globfree(&g);
            continue;
        }
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
            int rc = open_watched(c, w, at_end);
            if (rc == 0)
                sl_info(c->name, "following %s%s", w->path, at_end ? " from its end" : "");
            else if (rc != -ENOENT && rc != -EISDIR)
                sl_log_ratelimited(&s->open_limit, 1, SL_LOG_WARN, c->name, "cannot open %s: %s",
                                   w->path, strerror(-rc));
        }
        globfree(&g);
    }
}

/* Truncation, rotation and removal checks for one open file, after it was read to its end.
 * Returns -1 when the pipeline closed. */
static int check_file(struct sl_component *c, struct watched *w, int64_t now)
{
    struct stat st, cur;
    if (fstat(w->fd, &cur) == 0 && S_ISREG(cur.st_mode) && cur.st_size < w->pos) {
        sl_info(c->name, "%s was truncated: reading it from the start", w->path);
        int rc = sl_linereader_finish(w->r);
        sl_linereader_free(w->r);
        w->r = new_reader(c, w->path, 1, 0);
        lseek(w->fd, 0, SEEK_SET);
        w->pos = 0;
        if (w->ck) { /* the old content's position means nothing now */
            w->ck->dropped = true;
            ckpt_detach(w);
            bool resume, known;
            w->ck = ckpt_attach(c, w, 0, &resume, &known);
            w->ck->r = w->r;
            sl_linereader_set_emit(w->r, ckpt_emit, w->ck);
        }
        return rc ? -1 : 0;
    }
    if (stat(w->path, &st) != 0) {
        /* renamed away or deleted, not replaced (yet): keep reading the open file for a
         * while, a writer may still hold it */
        if (!w->gone)
            w->last_data = now;
        w->gone = true;
        if (now - w->last_data > GONE_IDLE_NS) {
            sl_info(c->name, "%s was removed: closing it", w->path);
            int rc = sl_linereader_finish(w->r);
            close_watched(w);
            return rc ? -1 : 0;
        }
        return 0;
    }
    if (st.st_ino == w->ino && st.st_dev == w->dev) {
        w->gone = false; /* renamed back, or a transient stat failure */
        return 0;
    }
    /* rotated: read the rest of the old file (written between our last read and the
     * rename), then follow the new one from its start */
    bool eof;
    if (drain(c, w, 0, &eof) < 0)
        return -1;
    sl_info(c->name, "%s was rotated: following the new file", w->path);
    int rc = sl_linereader_finish(w->r);
    close_watched(w);
    if (rc)
        return -1;
    if (open_watched(c, w, false) != 0)
        w->fd = -1; /* the next rescan tries again */
    return 0;
}

static int tail_mode(struct sl_component *c)
{
    struct file_state *s = c->state;
    rescan(c, true);
    int64_t last_scan = sl_clock_mono_ns(), last_flush = last_scan;
    while (!sl_source_stopping(c)) {
        bool busy = false;
        int64_t now = sl_clock_mono_ns();
        for (size_t i = 0; i < s->nfiles; i++) {
            struct watched *w = &s->files[i];
            if (w->fd < 0)
                continue;
            bool eof;
            ssize_t n = drain(c, w, POLL_READS, &eof);
            if (n < 0)
                return 0;
            if (!eof) {
                busy = true; /* more to read: come back before checking rotation */
                continue;
            }
            if (check_file(c, w, now) < 0)
                return 0;
        }
        now = sl_clock_mono_ns();
        if (!busy || now - last_flush >= FLUSH_NS) {
            for (size_t i = 0; i < s->nfiles; i++)
                if (s->files[i].r && sl_linereader_flush(s->files[i].r))
                    return 0;
            last_flush = now;
        }
        if (now - last_scan >= RESCAN_NS) {
            rescan(c, false);
            last_scan = now;
        }
        ckpt_tick(c, false);
        if (!busy) {
            struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
            poll(&pfd, 1, POLL_MS);
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
     "files or globs (\"/var/log/zeek/*.json\"), brace expansion allowed", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"format", SL_OPT_ENUM, "json", offsetof(struct file_conf, format),
     "json: one JSON object per line; lines: each line is a `message` string; zeek: Zeek TSV or "
     "JSON logs typed onto the network-event schema by #path or file name",
     "json|lines|zeek", 0, 0, 0},
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
    {"checkpoints", SL_OPT_STRING, NULL, offsetof(struct file_conf, checkpoints),
     "file keeping each file's delivered position (written after the sinks acknowledged): a "
     "restart resumes there, rotated and replaced files told apart by their first bytes",
     NULL, 0, 0, 0},
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
