/*
 * in_commands.c — the `commands` source: poll a command set (the receiver's commands URL, a
 * local file, or both) and hand it to the collectors that ask for it, once each per version.
 *
 *   GET /agent/ping?id=<collector_id>
 *     200 application/json   the current set, the first time this collector asks for it
 *     204                    already delivered to this collector, or no set known yet
 *     400 {"error":...}      id missing, given twice, or not 1-128 bytes of [A-Za-z0-9._:-];
 *                            or not in the allow-list (`collectors`, `collectors_file`)
 *     503 {"error":...}      no allow-list, and max_collectors other ids are known already
 *     405 other methods (HEAD too: it would use up the delivery);  404 other paths
 *     500                    the delivery could not be recorded
 *
 * Which ids are served: with `collectors` and/or `collectors_file` (one id per line, `#`
 * comments; re-read at each poll when its size, mtime or inode changed) only the ids they
 * name, nothing is written for any other id. Without them any well-formed id is served, and
 * each new one is recorded as a known collector (state/command_store.h) — at most
 * max_collectors of them, so unauthenticated pings cannot grow the state file without bound;
 * known ids keep working when the table is full.
 *
 * Every poll_interval the source polls its inputs: `file` (re-read when its size, mtime or
 * inode changed) then `url` (GET with If-None-Match when the last answer carried an ETag;
 * 304: unchanged). A body must be valid JSON (else it is logged, counted, and the current
 * set stays). A body whose content hash (XXH3-64, 16 hex digits: the "version") differs
 * from what that input gave last time and from the current set becomes the new version: in
 * one SQLite transaction the set is replaced and the delivery history cleared
 * (state/command_store.h), then pings see it. An input is marked as read (the file's stat, the
 * url's ETag and hash) only once its set is stored: a failed store is retried at the next
 * poll. When both inputs are set, the one that changed
 * last wins. The history, the current set and each input's last hash and ETag survive a
 * restart (`state`), so a restart neither re-delivers nor mistakes an unchanged input for a
 * new version.
 *
 * Events (the audit trail; the output may go unused, `output_optional`):
 *   {"type":"command_set","version":"…","bytes":N,"origin":"url"|"file","ts":…}
 *   {"type":"command_delivery","collector":"…","version":"…","ts":…}
 *   {"type":"command_delivery_undone",…}  the 200 did not go out completely (the collector
 *                                         hung up): the record is removed, it asks again
 *
 * DESIGN: three kinds of threads. The source thread polls (libcurl multi, so a slow
 * receiver never delays a stop: curl_multi_poll also waits on the stop fd) and emits the
 * events. libmicrohttpd's threads (an internal epoll thread and a pool of two) answer pings.
 * `lock` guards the in-memory set and the pending events. A ping holds it across reading the
 * current version, the INSERT OR IGNORE of (id, version) and taking a reference to the set
 * (immutable and reference counted: MHD sends it without a copy); a new version is stored
 * and swapped in under it too. So a ping never records a delivery of a version that is no
 * longer current, and the 200 goes out only when this very insert created the row: exactly
 * once per collector per version, across concurrent requests and restarts. Pings never wait
 * on the pipeline: a delivery's event goes into `pending` (bounded; beyond PENDING_MAX
 * events they are counted as dropped) and an eventfd wakes the source thread, which emits
 * it with back-pressure.
 */
#include "io/in_commands.h"

#include "base/alloc.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/map.h"
#include "codec/json.h"
#include "core/component.h"
#include "state/command_store.h"
#include "sys/net.h"
#include "sys/thread.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define PING_PATH     "/agent/ping"
#define PENDING_MAX   65536                /* delivery events waiting for the source thread */
#define RELOG_NS      (600 * 1000000000LL) /* a failure that persists is logged again after */
#define CURL_POLL_MS  1000
#define MAX_REDIRECTS 5L
#define VLEN          (SL_CMDSTORE_VERSION_LEN + 1)
#define IDS_FILE_MAX  (64u << 20)         /* collectors_file: larger is refused */
#define FULL_RELOG_NS (60 * 1000000000LL) /* max_collectors reached: logged at most this often */

const char *sl_commands_id_check(const char *id, size_t len)
{
    if (!id)
        return "missing id parameter";
    if (len == 0)
        return "empty id";
    if (len > SL_COMMANDS_ID_MAX)
        return "id longer than 128 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-';
        if (!ok)
            return "id may only contain A-Z a-z 0-9 . _ : -";
    }
    return NULL;
}

struct cmd_conf {
    char *url;
    char *file;
    int64_t poll_interval; /* ns */
    char *listen;
    char *state;
    int64_t timeout; /* ns */
    bool tls_verify;
    uint64_t max_body;
    struct sl_strlist collectors;
    char *collectors_file;
    int64_t max_collectors;
};

/* What one input (the url, the file, the collectors_file) last gave. Source thread only
 * (after init). */
struct input {
    const char *name;     /* "url" | "file" | "collectors_file" */
    const char *keeps;    /* what stays when it fails, for the log */
    const char *location; /* the URL or the path */
    char hash[VLEN];      /* of its last valid body; "" none */
    char bad_hash[VLEN];  /* of its last invalid body (logged once) */
    char etag[SL_CMDSTORE_ETAG_MAX];
    /* file: the stat of the last read, to skip unchanged files */
    bool have_sig;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    /* a valid body whose set could not be stored: offered again at the next poll, unless the
     * other input's set is stored first (then this one is taken as read: the other changed
     * later, and a retry must not undo it) */
    bool pending;
    char pend_hash[VLEN];
    char pend_etag[SL_CMDSTORE_ETAG_MAX];
    bool pend_has_st; /* file: the stat of that read */
    struct stat pend_st;
    /* the current failure, logged when it changes and every RELOG_NS while it lasts */
    char failure[256];
    int64_t failure_logged_ns;
};

struct cmdset; /* below */

struct cmd_state {
    struct sl_cmdstore *store;
    struct MHD_Daemon *mhd;
    /* the allow-list: the ids of `collectors` and `collectors_file`; NULL when neither is set
     * (any well-formed id, up to max_collectors). Replaced whole when the file changes. */
    struct sl_hmap *allow; /* guarded_by: lock */
    int port;
    int wake_fd; /* eventfd: pending events for the source thread */

    struct sl_mutex lock;
    struct cmdset *set;       /* guarded_by: lock; NULL while no set is known */
    struct sl_batch *pending; /* guarded_by: lock; events for the source thread */

    /* source thread */
    CURL *curl;
    CURLM *multi;
    bool curl_global;
    struct sl_buf resp;
    bool resp_too_big;
    struct input in_url, in_file, in_ids;
    atomic_int_fast64_t full_logged_ns; /* max_collectors reached: when it was last logged */

    sl_sym sym_type, sym_collector, sym_version, sym_ts, sym_bytes, sym_origin;
    atomic_uint_fast64_t polls, poll_failures, invalid, versions, deliveries, undone, pings,
        bad_requests, unknown, refused;
};

/* A command set: immutable once made, shared by the state and the 200 answers in flight
 * (MHD sends the body straight from it and drops its reference when done). */
struct cmdset {
    atomic_uint refs;
    char version[VLEN];
    size_t len;
    char body[]; /* len bytes and a NUL */
};

/* One request on the ping server (MHD's per-connection pointer). */
struct ping_req {
    struct sl_component *c;
    bool delivered; /* answered 200: undo the delivery if the answer does not go out */
    size_t id_len;
    char id[SL_COMMANDS_ID_MAX + 1];
    char version[VLEN];
};

/* A new set with one reference; NULL on OOM (the size comes from the input). */
static struct cmdset *set_new(const char *version, const char *body, size_t len)
{
    struct cmdset *t = sl_malloc(sizeof(*t) + len + 1);
    if (!t)
        return NULL;
    atomic_init(&t->refs, 1);
    memcpy(t->version, version, VLEN);
    t->len = len;
    if (len)
        memcpy(t->body, body, len);
    t->body[len] = '\0';
    return t;
}

static void set_unref(void *p)
{
    struct cmdset *t = p;
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        sl_free(t);
}

#define ADD(ctr) atomic_fetch_add_explicit(&(ctr), 1, memory_order_relaxed)
#define GET(ctr) ((double)atomic_load_explicit(&(ctr), memory_order_relaxed))

/* ------------------------------------------------------------------------------------------
 * Events
 */

/* Under lock: a new event in the pending batch, or NULL (counted as dropped) when full. */
static struct sl_event *pending_push(struct sl_component *c, int64_t now_ns, const char *type)
{
    struct cmd_state *s = c->state;
    if (!s->pending)
        s->pending = sl_batch_new();
    struct sl_event *ev = s->pending->count < PENDING_MAX ? sl_batch_push(s->pending) : NULL;
    if (!ev) {
        atomic_fetch_add_explicit(&c->m.dropped, 1, memory_order_relaxed);
        return NULL;
    }
    ev->ts_ns = now_ns;
    sl_event_set_str(s->pending, ev, s->sym_type, type, strlen(type));
    return ev;
}

static void wake(struct cmd_state *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->wake_fd, &one, sizeof(one));
    (void)n; /* EAGAIN: the counter is already non-zero, the source thread will look */
}

/* Source thread: hand the pending events to the pipeline (waits while it is full). */
static void flush_pending(struct sl_component *c)
{
    struct cmd_state *s = c->state;
    uint64_t v;
    ssize_t n = read(s->wake_fd, &v, sizeof(v));
    (void)n;
    sl_mutex_lock(&s->lock);
    struct sl_batch *b = s->pending;
    s->pending = NULL;
    sl_mutex_unlock(&s->lock);
    if (b)
        sl_source_emit(c, b);
}

/* ------------------------------------------------------------------------------------------
 * A new body from an input
 */

/* Log an input's failure when it is new or every RELOG_NS while it lasts; count it. */
static void input_failed(struct sl_component *c, struct input *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void input_failed(struct sl_component *c, struct input *in, const char *fmt, ...)
{
    struct cmd_state *s = c->state;
    char msg[sizeof(in->failure)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ADD(s->poll_failures);
    int64_t now = sl_clock_mono_ns();
    if (strcmp(msg, in->failure) != 0 || now - in->failure_logged_ns >= RELOG_NS) {
        sl_warn(c->name, "%s %s: %s (%s)", in->name, in->location, msg, in->keeps);
        snprintf(in->failure, sizeof(in->failure), "%s", msg);
        in->failure_logged_ns = now;
    }
}

static void input_ok(struct sl_component *c, struct input *in)
{
    if (in->failure[0])
        sl_info(c->name, "%s %s: recovered", in->name, in->location);
    in->failure[0] = '\0';
}

/* Make body the current set (it differs from it). 0, SL_ENOMEM or SL_EIO (nothing
 * changed). */
static int new_version(struct sl_component *c, struct input *in, const char *version,
                       const char *body, size_t len)
{
    struct cmd_state *s = c->state;
    int64_t now = sl_clock_wall_ns();
    struct cmdset *t = set_new(version, body, len);
    if (!t)
        return SL_ENOMEM;
    sl_mutex_lock(&s->lock);
    int rc = sl_cmdstore_replace(s->store, version, body, len, now / 1000000);
    if (rc == 0) {
        struct cmdset *old = s->set;
        s->set = t;
        t = old; /* dropped below, outside the lock */
        struct sl_event *ev = pending_push(c, now, "command_set");
        if (ev) {
            sl_event_set_str(s->pending, ev, s->sym_version, version, strlen(version));
            sl_event_set(s->pending, ev, s->sym_bytes, sl_value_int((int64_t)len));
            sl_event_set_str(s->pending, ev, s->sym_origin, in->name, strlen(in->name));
            sl_event_set(s->pending, ev, s->sym_ts, sl_value_ts(now));
        }
    }
    sl_mutex_unlock(&s->lock);
    set_unref(t);
    if (rc)
        return rc;
    ADD(s->versions);
    sl_info(c->name, "new command set %s from %s %s (%zu bytes): delivery history cleared", version,
            in->name, in->location, len);
    return 0;
}

static void sig_take(struct input *in, const struct stat *st);

/* The set of `in` was just stored: the other input's set that could not be stored earlier
 * is taken as read, not offered again (it would replace a set that came after it). */
static void supersede_pending(struct sl_component *c, const struct input *in)
{
    struct cmd_state *s = c->state;
    struct input *o = in == &s->in_url ? &s->in_file : &s->in_url;
    if (!o->pending)
        return;
    o->pending = false;
    memcpy(o->hash, o->pend_hash, VLEN);
    snprintf(o->etag, sizeof(o->etag), "%s", o->pend_etag);
    if (o->pend_has_st)
        sig_take(o, &o->pend_st);
    sl_cmdstore_input_put(s->store, o->name, o->location, o->hash, o->etag);
    sl_info(c->name,
            "the set %s %s gave (version %s) was never stored and is now replaced by the one "
            "from %s %s",
            o->name, o->location, o->hash, in->name, in->location);
}

/* A body an input gave (200 or a changed file). Validated, hashed, maybe a new version;
 * `etag` is the answer's ("" for none or for the file). 0 when the body was dealt with (taken,
 * the same as before, or refused as invalid JSON: logged, and fetching it again would not
 * help); SL_ENOMEM or SL_EIO when it could not be stored: the caller must not remember the
 * input as read (the file's stat, the url's ETag), so that the next poll offers it again. */
static int offer(struct sl_component *c, struct input *in, const char *body, size_t len,
                 const char *etag)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    char hash[VLEN];
    sl_cmdstore_version_of(body, len, hash);
    if (strcmp(hash, in->hash) == 0) { /* the same as last time (a server without ETags) */
        input_ok(c, in);
        if (strcmp(etag, in->etag) != 0) {
            snprintf(in->etag, sizeof(in->etag), "%s", etag);
            sl_cmdstore_input_put(s->store, in->name, in->location, in->hash, in->etag);
        }
        return 0;
    }
    struct sl_arena a;
    sl_arena_init(&a, 64 * 1024, 0);
    struct sl_json_opts o = {.max_len = (size_t)cf->max_body};
    struct sl_value v;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc = sl_json_parse_value(&a, body, len, &o, &v, &d);
    sl_arena_fini(&a);
    if (rc) {
        ADD(s->invalid);
        /* remember the ETag so an unchanged bad body is not fetched again; the current set
         * stays, and so does the input's last good hash */
        snprintf(in->etag, sizeof(in->etag), "%s", etag);
        if (strcmp(hash, in->bad_hash) != 0)
            in->failure[0] = '\0'; /* a different bad body: log it */
        memcpy(in->bad_hash, hash, VLEN);
        input_failed(c, in, "not valid JSON (%zu bytes, at byte %lld: %s)", len,
                     (long long)d.offset, d.msg);
        return 0;
    }
    input_ok(c, in);
    in->bad_hash[0] = '\0';
    sl_mutex_lock(&s->lock);
    bool current = s->set && strcmp(hash, s->set->version) == 0;
    sl_mutex_unlock(&s->lock);
    if (!current && (rc = new_version(c, in, hash, body, len)) != 0) {
        if (rc == SL_ENOMEM)
            input_failed(c, in, "out of memory for a new command set of %zu bytes", len);
        else
            input_failed(c, in, "cannot store the new command set in %s", cf->state);
        in->pending = true;
        memcpy(in->pend_hash, hash, VLEN);
        snprintf(in->pend_etag, sizeof(in->pend_etag), "%s", etag);
        return rc; /* the input's hash and ETag stay old: the next poll tries again */
    }
    in->pending = false;
    if (!current)
        supersede_pending(c, in);
    memcpy(in->hash, hash, VLEN);
    snprintf(in->etag, sizeof(in->etag), "%s", etag);
    /* the set itself is stored: failing to record the input only costs, after a restart, one
     * fetch of an unchanged body (then recognised as the current set) */
    if (sl_cmdstore_input_put(s->store, in->name, in->location, in->hash, in->etag))
        sl_warn(c->name, "cannot record what %s %s gave in %s", in->name, in->location, cf->state);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Polling: the file
 */

/* The stat of a file input, to skip re-reading an unchanged file. */
static bool sig_same(const struct input *in, const struct stat *st)
{
    return in->have_sig && st->st_dev == in->dev && st->st_ino == in->ino &&
           st->st_size == in->size && st->st_mtim.tv_sec == in->mtime.tv_sec &&
           st->st_mtim.tv_nsec == in->mtime.tv_nsec;
}

static void sig_take(struct input *in, const struct stat *st)
{
    in->have_sig = true;
    in->dev = st->st_dev;
    in->ino = st->st_ino;
    in->size = st->st_size;
    in->mtime = st->st_mtim;
}

static void poll_file(struct sl_component *c)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    struct input *in = &s->in_file;
    ADD(s->polls);
    struct stat st;
    if (stat(cf->file, &st) != 0) {
        input_failed(c, in, "%s", strerror(errno));
        return;
    }
    if (sig_same(in, &st))
        return; /* unchanged */
    if (!S_ISREG(st.st_mode)) {
        input_failed(c, in, "not a regular file");
        return;
    }
    if ((uint64_t)st.st_size > cf->max_body) {
        input_failed(c, in, "larger than max_body (%llu bytes)", (unsigned long long)cf->max_body);
        return;
    }
    int fd = open(cf->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        input_failed(c, in, "%s", strerror(errno));
        return;
    }
    /* read to EOF (the file may have grown since stat), at most max_body + 1 bytes */
    struct sl_buf b;
    sl_buf_init(&b, cf->max_body + 1);
    char chunk[16384];
    ssize_t n;
    bool too_big = false;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        if (sl_buf_append(&b, chunk, (size_t)n)) {
            too_big = true;
            break;
        }
    }
    int err = n < 0 ? errno : 0;
    close(fd);
    if (err)
        input_failed(c, in, "%s", strerror(err));
    else if (too_big || b.len > cf->max_body)
        input_failed(c, in, "larger than max_body (%llu bytes)", (unsigned long long)cf->max_body);
    /* the stat is remembered only once the body was dealt with: a set that could not be
     * stored (SQLite busy, I/O error, out of memory) is read and offered again next poll */
    in->pend_st = st; /* for supersede_pending, if this read cannot be stored */
    in->pend_has_st = true;
    if (!err && !too_big && b.len <= cf->max_body &&
        offer(c, in, b.len ? b.ptr : "", b.len, "") == 0)
        sig_take(in, &st);
    sl_buf_fini(&b);
}

/* ------------------------------------------------------------------------------------------
 * The allow-list: `collectors` and `collectors_file`
 */

static void allow_free(struct sl_hmap *m)
{
    if (m) {
        sl_hmap_fini(m);
        sl_free(m);
    }
}

/* Add the ids of a collectors file's text to m: one per line, blanks around it ignored, `#`
 * starts a comment. 0; SL_EPARSE with the line and why in msg; SL_ENOMEM. */
static int parse_ids(const char *text, size_t len, struct sl_hmap *m, char *msg, size_t msg_len)
{
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        const char *line = text + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + (nl ? 1 : 0);
        lineno++;
        const char *hash = memchr(line, '#', ll);
        if (hash)
            ll = (size_t)(hash - line);
        while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
            ll--;
        while (ll && (*line == ' ' || *line == '\t')) {
            line++;
            ll--;
        }
        if (!ll)
            continue;
        const char *why = sl_commands_id_check(line, ll);
        if (why) {
            snprintf(msg, msg_len, "line %zu: %s", lineno, why);
            return SL_EPARSE;
        }
        if (sl_hmap_put(m, sl_str_make(line, ll), 0))
            return SL_ENOMEM;
    }
    return 0;
}

/* A new allow-list: the `collectors` option and the collectors file's text (when set). 0 and
 * *out (owned by the caller), or SL_EPARSE / SL_ENOMEM with msg set. */
static int allow_build(struct sl_component *c, const char *text, size_t len, struct sl_hmap **out,
                       char *msg, size_t msg_len)
{
    struct cmd_conf *cf = c->conf;
    struct sl_hmap *m = sl_xcalloc(1, sizeof(*m));
    sl_hmap_init(m);
    int rc = 0;
    for (size_t i = 0; i < cf->collectors.count && rc == 0; i++)
        rc = sl_hmap_put(m, sl_str_c(cf->collectors.items[i]), 0); /* checked by init */
    if (rc == 0 && text)
        rc = parse_ids(text, len, m, msg, msg_len);
    if (rc == SL_ENOMEM)
        snprintf(msg, msg_len, "out of memory for the list of collectors");
    if (rc) {
        allow_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Read the collectors file when it changed since the last successful read (always when
 * `force`) and build the allow-list from it: 0 with *out (NULL: unchanged), or an error with
 * msg set (the file is read again next time). */
static int ids_read(struct sl_component *c, bool force, struct sl_hmap **out, char *msg,
                    size_t msg_len)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    *out = NULL;
    struct stat st;
    int fd = open(cf->collectors_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, msg_len, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return SL_EIO;
    }
    if (!force && sig_same(&s->in_ids, &st)) {
        close(fd);
        return 0;
    }
    struct sl_buf b;
    sl_buf_init(&b, IDS_FILE_MAX);
    char chunk[16384];
    ssize_t n;
    int rc = 0;
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msg_len, "not a regular file");
        rc = SL_EIO;
    }
    while (rc == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            snprintf(msg, msg_len, "%s", strerror(errno));
            rc = SL_EIO;
        } else if (sl_buf_append(&b, chunk, (size_t)n)) {
            snprintf(msg, msg_len, "larger than %u MiB", IDS_FILE_MAX >> 20);
            rc = SL_E2BIG;
        }
    }
    close(fd);
    if (rc == 0)
        rc = allow_build(c, b.len ? b.ptr : "", b.len, out, msg, msg_len);
    sl_buf_fini(&b);
    if (rc == 0)
        sig_take(&s->in_ids, &st); /* only once it is taken: a failed read is retried */
    return rc;
}

/* Source thread, at each poll: re-read collectors_file when it changed. A file that cannot be
 * read or has a bad line is logged and counted; the list in use stays. */
static void poll_ids(struct sl_component *c)
{
    struct cmd_state *s = c->state;
    struct input *in = &s->in_ids;
    char msg[200];
    struct sl_hmap *m = NULL;
    if (ids_read(c, false, &m, msg, sizeof(msg))) {
        input_failed(c, in, "%s", msg);
        return;
    }
    if (!m)
        return; /* unchanged */
    input_ok(c, in);
    sl_mutex_lock(&s->lock);
    struct sl_hmap *old = s->allow;
    s->allow = m;
    sl_mutex_unlock(&s->lock);
    allow_free(old);
    sl_info(c->name, "collectors_file %s: %zu known collectors", in->location, m->count);
}

/* ------------------------------------------------------------------------------------------
 * Polling: the URL
 */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct cmd_state *s = arg;
    size_t n = size * nmemb;
    if (sl_buf_append(&s->resp, p, n)) {
        s->resp_too_big = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    return n;
}

static int curl_setup(struct sl_component *c, struct sl_diag *d)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sl_diag_set(d, SL_ESYS, "commands '%s': cannot initialise libcurl", c->name);
    s->curl_global = true;
    s->curl = curl_easy_init();
    s->multi = curl_multi_init();
    if (!s->curl || !s->multi)
        return sl_diag_set(d, SL_ESYS, "commands '%s': cannot initialise libcurl", c->name);
    CURL *h = s->curl;
    long timeout_ms = (long)(cf->timeout / 1000000);
    bool ok =
        curl_easy_setopt(h, CURLOPT_URL, cf->url) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRECTS) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 1L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cf->tls_verify ? 1L : 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cf->tls_verify ? 2L : 0L) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice/" SL_VERSION) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
        curl_easy_setopt(h, CURLOPT_WRITEDATA, s) == CURLE_OK;
    if (!ok) {
        sl_component_diag_opt(c, "url", d);
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': libcurl refuses url \"%s\"", c->name,
                           cf->url);
    }
    sl_buf_init(&s->resp, cf->max_body);
    return 0;
}

/* One GET of the url: the transfer's result, or CURLE_ABORTED_BY_CALLBACK when the source
 * stops meanwhile. */
static CURLcode fetch(struct sl_component *c)
{
    struct cmd_state *s = c->state;
    struct curl_slist *hdrs = NULL;
    char inm[SL_CMDSTORE_ETAG_MAX + 32];
    if (s->in_url.etag[0]) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", s->in_url.etag);
        hdrs = curl_slist_append(NULL, inm);
    }
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdrs);
    sl_buf_reset(&s->resp);
    s->resp_too_big = false;
    CURLcode res = CURLE_ABORTED_BY_CALLBACK;
    curl_multi_add_handle(s->multi, s->curl);
    struct curl_waitfd stop = {.fd = sl_source_stop_fd(c), .events = CURL_WAIT_POLLIN};
    for (;;) {
        int running = 0;
        if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            int left;
            CURLMsg *m = curl_multi_info_read(s->multi, &left);
            res = m && m->msg == CURLMSG_DONE ? m->data.result : CURLE_FAILED_INIT;
            break;
        }
        if (sl_source_stopping(c))
            break;
        curl_multi_poll(s->multi, &stop, 1, CURL_POLL_MS, NULL);
    }
    curl_multi_remove_handle(s->multi, s->curl);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return res;
}

static void poll_url(struct sl_component *c)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    struct input *in = &s->in_url;
    ADD(s->polls);
    CURLcode res = fetch(c);
    if (res == CURLE_ABORTED_BY_CALLBACK && sl_source_stopping(c))
        return;
    if (res != CURLE_OK) {
        if (s->resp_too_big)
            input_failed(c, in, "answer larger than max_body (%llu bytes)",
                         (unsigned long long)cf->max_body);
        else
            input_failed(c, in, "%s", curl_easy_strerror(res));
        return;
    }
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 304 && in->etag[0]) {
        input_ok(c, in);
        return;
    }
    if (status != 200) {
        input_failed(c, in, "HTTP status %ld", status);
        return;
    }
    char etag[SL_CMDSTORE_ETAG_MAX] = "";
    struct curl_header *h = NULL;
    if (curl_easy_header(s->curl, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h->value &&
        strlen(h->value) < sizeof(etag))
        snprintf(etag, sizeof(etag), "%s", h->value);
    /* offer() keeps the old ETag (and hash) when the set could not be stored, so the next
     * poll's If-None-Match does not match and the body comes again */
    (void)offer(c, in, s->resp.len ? s->resp.ptr : "", s->resp.len, etag);
}

static void poll_all(struct sl_component *c)
{
    struct cmd_conf *cf = c->conf;
    if (cf->collectors_file && !sl_source_stopping(c))
        poll_ids(c);
    if (cf->file && !sl_source_stopping(c))
        poll_file(c);
    if (cf->url && !sl_source_stopping(c))
        poll_url(c);
}

/* ------------------------------------------------------------------------------------------
 * /agent/ping
 */

/* Queue an answer. The body: `set` (its reference is passed on), else `text` (sl_malloc'd,
 * passed on), else none. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, struct cmdset *set,
                              char *text, size_t text_len, const char *ctype, const char *etag)
{
    struct MHD_Response *r;
    if (set)
        r = MHD_create_response_from_buffer_with_free_callback_cls(set->len, set->body, set_unref,
                                                                   set);
    else if (text)
        r = MHD_create_response_from_buffer_with_free_callback(text_len, text, sl_free);
    else
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        set_unref(set);
        sl_free(text);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    if (etag)
        MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "GET");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error_answer(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b, 4096);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, "}\n");
    size_t len = 0;
    char *p = sl_buf_steal(&b, &len);
    return answer(conn, status, NULL, p ? p : sl_xstrdup(""), len, "application/json", NULL);
}

/* Under lock: an event about collector id and version. */
static void delivery_event(struct sl_component *c, int64_t now, const char *type, const char *id,
                           size_t id_len, const char *version)
{
    struct cmd_state *s = c->state;
    struct sl_event *ev = pending_push(c, now, type);
    if (ev) {
        sl_event_set_str(s->pending, ev, s->sym_collector, id, id_len);
        sl_event_set_str(s->pending, ev, s->sym_version, version, strlen(version));
        sl_event_set(s->pending, ev, s->sym_ts, sl_value_ts(now));
    }
}

/* MHD iterator: count the `id` arguments (a query may repeat one). */
static enum MHD_Result count_id(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_len,
                                const char *value, size_t value_len)
{
    (void)kind;
    (void)value;
    (void)value_len;
    if (key_len == 2 && memcmp(key, "id", 2) == 0)
        (*(unsigned *)cls)++;
    return MHD_YES;
}

/* MHD thread: max_collectors is reached and `id` is new. Logged at most every FULL_RELOG_NS
 * (by one thread: the compare-exchange elects it). */
static void refused_new(struct sl_component *c, const char *id, size_t id_len)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    ADD(s->refused);
    int64_t now = sl_clock_mono_ns();
    int_fast64_t last = atomic_load_explicit(&s->full_logged_ns, memory_order_relaxed);
    if ((last == 0 || now - last >= FULL_RELOG_NS) &&
        atomic_compare_exchange_strong_explicit(&s->full_logged_ns, &last, now,
                                                memory_order_relaxed, memory_order_relaxed))
        sl_warn(c->name,
                "max_collectors (%lld) reached: new collector %.*s refused (503), %.0f so far; "
                "known collectors are still served (raise max_collectors, or name the collectors "
                "in collectors/collectors_file)",
                (long long)cf->max_collectors, (int)id_len, id, GET(s->refused));
}

static enum MHD_Result ping(struct sl_component *c, struct MHD_Connection *conn,
                            struct ping_req *rq)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    const char *id = NULL;
    size_t id_len = 0;
    unsigned ids = 0;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, count_id, &ids);
    if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "id", 2, &id, &id_len) !=
        MHD_YES)
        id = NULL;
    const char *why = ids > 1 ? "id given more than once" : sl_commands_id_check(id, id_len);
    if (why) {
        ADD(s->bad_requests);
        return error_answer(conn, MHD_HTTP_BAD_REQUEST, why);
    }
    int64_t now = sl_clock_wall_ns();
    sl_mutex_lock(&s->lock);
    bool listed = s->allow != NULL;
    bool known = !listed || sl_hmap_get(s->allow, sl_str_make(id, id_len), NULL);
    sl_mutex_unlock(&s->lock);
    if (!known) { /* nothing is written for an id the allow-list does not name */
        ADD(s->bad_requests);
        ADD(s->unknown);
        return error_answer(conn, MHD_HTTP_BAD_REQUEST, "unknown collector");
    }
    int rc =
        listed ? 0 : sl_cmdstore_admit(s->store, id, id_len, cf->max_collectors, now / 1000000);
    if (rc == SL_ELIMIT) {
        refused_new(c, id, id_len);
        return error_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "too many collectors (max_collectors reached)");
    }
    if (rc < 0) {
        sl_error(c->name, "ping from %.*s: cannot record the collector in %s", (int)id_len, id,
                 cf->state);
        return error_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot record the collector");
    }
    struct cmdset *set = NULL;
    char etag[VLEN + 2];
    rc = 0;
    sl_mutex_lock(&s->lock);
    if (s->set) {
        rc = sl_cmdstore_deliver(s->store, id, id_len, s->set->version, now / 1000000);
        if (rc == 1) {
            set = s->set;
            atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
            delivery_event(c, now, "command_delivery", id, id_len, set->version);
        }
    }
    sl_mutex_unlock(&s->lock);
    if (rc < 0) {
        sl_error(c->name, "ping from %.*s: cannot record the delivery in %s", (int)id_len, id,
                 cf->state);
        return error_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot record the delivery");
    }
    if (!set)
        return answer(conn, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, NULL, NULL);
    ADD(s->deliveries);
    wake(s);
    rq->delivered = true;
    memcpy(rq->id, id, id_len);
    rq->id[id_len] = '\0';
    rq->id_len = id_len;
    memcpy(rq->version, set->version, VLEN);
    snprintf(etag, sizeof(etag), "\"%s\"", set->version);
    return answer(conn, MHD_HTTP_OK, set, NULL, 0, "application/json", etag);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct sl_component *c = cls;
    struct cmd_state *s = c->state;
    struct ping_req *rq = *con_cls;
    if (!rq) { /* headers only: wait for the (ignored) body */
        rq = sl_xcalloc(1, sizeof(*rq));
        rq->c = c;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_len) {
        *upload_len = 0;
        return MHD_YES;
    }
    if (strcmp(url, PING_PATH) != 0)
        return error_answer(conn, MHD_HTTP_NOT_FOUND, "not found");
    ADD(s->pings);
    /* not even HEAD: it would record a delivery whose body never goes out */
    if (strcmp(method, "GET") != 0)
        return error_answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
    return ping(c, conn, rq);
}

/* A request ended. A 200 that did not go out completely (the collector hung up, timed out,
 * the server stopped) is not a delivery: its record is removed, so the collector gets the
 * set at its next ping — unless another version came meanwhile (then there is nothing to
 * undo). MHD's "completed" means handed to the kernel, so a set lost after that is not
 * noticed: at most once, as the contract wants, not at least once. */
static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct ping_req *rq = *con_cls;
    *con_cls = NULL;
    if (!rq)
        return;
    if (rq->delivered && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        struct sl_component *c = rq->c;
        struct cmd_state *s = c->state;
        int64_t now = sl_clock_wall_ns();
        sl_mutex_lock(&s->lock);
        int rc = sl_cmdstore_undeliver(s->store, rq->id, rq->id_len, rq->version);
        if (rc == 1)
            delivery_event(c, now, "command_delivery_undone", rq->id, rq->id_len, rq->version);
        sl_mutex_unlock(&s->lock);
        if (rc == 1) {
            ADD(s->undone);
            wake(s);
        }
        sl_warn(c->name, "the command set %s did not reach %s (%s): %s", rq->version, rq->id,
                toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout" : "connection closed",
                rc == 1 ? "it goes out again at its next ping"
                        : "not undone (another version came meanwhile)");
    }
    sl_free(rq);
}

/* ------------------------------------------------------------------------------------------
 * Life cycle
 */

static void load_input(struct sl_component *c, struct input *in, const char *name,
                       const char *location)
{
    struct cmd_state *s = c->state;
    in->name = name;
    in->location = location;
    if (sl_cmdstore_input_get(s->store, name, location, in->hash, in->etag) != 0) {
        in->hash[0] = '\0';
        in->etag[0] = '\0';
    }
}

static void cmd_fini(struct sl_component *c);

/* cmd_init without the clean-up of a failure (the pipeline calls fini only after a successful
 * init). */
static int init_state(struct sl_component *c, struct sl_diag *d)
{
    struct cmd_conf *cf = c->conf;
    if (!cf->url && !cf->file) {
        sl_diag_hint(d, "set url (the receiver's commands URL), file, or both");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': no url and no file", c->name);
    }
    if (cf->url && strncmp(cf->url, "http://", 7) != 0 && strncmp(cf->url, "https://", 8) != 0) {
        sl_component_diag_opt(c, "url", d);
        sl_diag_hint(d, "write url: \"http://receiver:8080/commands\"");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': url must start with http:// or https://",
                           c->name);
    }
    if (cf->poll_interval < 10000000) {
        sl_component_diag_opt(c, "poll_interval", d);
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': poll_interval must be at least 10ms",
                           c->name);
    }
    if (cf->timeout < 1000000) {
        sl_component_diag_opt(c, "timeout", d);
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': timeout must be at least 1ms", c->name);
    }
    if (cf->max_body == 0 || cf->max_body > (1u << 30)) {
        sl_component_diag_opt(c, "max_body", d);
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': max_body must be 1 B to 1 GiB", c->name);
    }
    for (size_t i = 0; i < cf->collectors.count; i++) {
        const char *id = cf->collectors.items[i];
        const char *why = sl_commands_id_check(id, strlen(id));
        if (why) {
            sl_component_diag_opt(c, "collectors", d);
            return sl_diag_set(d, SL_ECONFIG, "commands '%s': collectors[%zu] \"%s\": %s", c->name,
                               i, id, why);
        }
    }
    char host[256];
    uint16_t port;
    if (sl_net_split_hostport(cf->listen, host, sizeof(host), &port)) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "write listen: \"0.0.0.0:8113\"");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': invalid address \"%s\"", c->name,
                           cf->listen);
    }
    struct cmd_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    s->wake_fd = -1;
    sl_mutex_init(&s->lock);
    s->sym_type = sl_sym_intern_c("type");
    s->sym_collector = sl_sym_intern_c("collector");
    s->sym_version = sl_sym_intern_c("version");
    s->sym_ts = sl_sym_intern_c("ts");
    s->sym_bytes = sl_sym_intern_c("bytes");
    s->sym_origin = sl_sym_intern_c("origin");

    struct sl_diag sd;
    sl_diag_init(&sd);
    if (sl_cmdstore_open(cf->state, &s->store, &sd)) {
        sl_component_diag_opt(c, "state", d);
        sl_diag_hint(d, "state is a SQLite file the source may create and write");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': %s", c->name, sd.msg);
    }
    int64_t fetched_ms = 0;
    char version[VLEN];
    char *body = NULL;
    size_t body_len = 0;
    int rc = sl_cmdstore_current(s->store, version, &body, &body_len, &fetched_ms);
    if (rc == 0) {
        s->set = set_new(version, body, body_len);
        sl_free(body);
    }
    if ((rc && rc != SL_ENOENT) || (rc == 0 && !s->set)) {
        sl_component_diag_opt(c, "state", d);
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': cannot read %s: %s", c->name, cf->state,
                           sl_strerror(rc ? rc : SL_ENOMEM));
    }
    if (cf->url)
        load_input(c, &s->in_url, "url", cf->url);
    if (cf->file)
        load_input(c, &s->in_file, "file", cf->file);
    if (cf->url && (rc = curl_setup(c, d)) != 0)
        return rc;
    s->in_ids.name = "collectors_file";
    s->in_ids.location = cf->collectors_file;
    s->in_ids.keeps = "the list of collectors in use stays";
    s->in_url.keeps = s->in_file.keeps = "the current command set stays";
    char msg[200];
    if (cf->collectors_file && ids_read(c, true, &s->allow, msg, sizeof(msg))) {
        sl_component_diag_opt(c, "collectors_file", d);
        sl_diag_hint(d, "one collector id per line, `#` starts a comment");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': collectors_file %s: %s", c->name,
                           cf->collectors_file, msg);
    }
    if (!cf->collectors_file && cf->collectors.count &&
        allow_build(c, NULL, 0, &s->allow, msg, sizeof(msg)))
        return sl_diag_set(d, SL_ENOMEM, "commands '%s': %s", c->name, msg);
    if (s->allow && s->allow->count == 0)
        sl_warn(c->name, "collectors_file %s names no collector: every ping gets 400",
                cf->collectors_file);

    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0)
        return sl_diag_set(d, SL_ESYS, "commands '%s': eventfd: %s", c->name, strerror(errno));
    int fd = sl_net_listen_tcp(host, port, 512);
    if (fd < 0) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "pick another port, or stop what listens there");
        return sl_diag_set(d, SL_ECONFIG, "commands '%s': cannot listen on %s: %s", c->name,
                           cf->listen, sl_strerror(fd));
    }
    s->port = sl_net_local_port(fd);
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                              handle, c, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE,
                              (unsigned)2, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        return sl_diag_set(d, SL_ESYS, "commands '%s': cannot start the HTTP server", c->name);
    }
    if (s->set)
        sl_info(c->name, "command set %s (%zu bytes) from %s", s->set->version, s->set->len,
                cf->state);
    if (s->allow)
        sl_info(c->name, "%zu known collectors (collectors, collectors_file): other ids get 400",
                s->allow->count);
    else
        sl_info(c->name, "any collector id is served, up to max_collectors (%lld; %lld known)",
                (long long)cf->max_collectors, (long long)sl_cmdstore_collector_count(s->store));
    return 0;
}

static int cmd_init(struct sl_component *c, struct sl_diag *d)
{
    int rc = init_state(c, d);
    if (rc)
        cmd_fini(c); /* whatever was set up (c->state may be NULL) */
    return rc;
}

static void wait_interval(struct sl_component *c, int64_t interval_ns)
{
    struct cmd_state *s = c->state;
    int64_t deadline = sl_clock_mono_ns() + interval_ns;
    while (!sl_source_stopping(c)) {
        int64_t left = deadline - sl_clock_mono_ns();
        if (left <= 0)
            break;
        struct pollfd pfd[2] = {{.fd = sl_source_stop_fd(c), .events = POLLIN},
                                {.fd = s->wake_fd, .events = POLLIN}};
        int ms = (int)((left + 999999) / 1000000);
        if (poll(pfd, 2, ms) > 0 && (pfd[1].revents & POLLIN))
            flush_pending(c);
    }
}

static int cmd_run(struct sl_component *c)
{
    struct cmd_conf *cf = c->conf;
    struct cmd_state *s = c->state;
    sl_info(c->name, "listening on port %d (%s%s%s)", s->port, cf->url ? cf->url : "",
            cf->url && cf->file ? ", " : "", cf->file ? cf->file : "");
    for (;;) {
        poll_all(c);
        flush_pending(c);
        if (sl_source_once(c) || sl_source_stopping(c))
            break;
        wait_interval(c, cf->poll_interval);
        if (sl_source_stopping(c))
            break;
    }
    /* requests in flight finish; their events are emitted below */
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    flush_pending(c);
    sl_info(c->name, "stopped: %.0f pings, %.0f deliveries, %.0f versions", GET(s->pings),
            GET(s->deliveries), GET(s->versions));
    return 0;
}

static void cmd_fini(struct sl_component *c)
{
    struct cmd_state *s = c->state;
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->curl)
        curl_easy_cleanup(s->curl);
    if (s->curl_global)
        curl_global_cleanup();
    sl_buf_fini(&s->resp);
    sl_cmdstore_free(s->store);
    if (s->pending)
        sl_batch_unref(s->pending);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    set_unref(s->set);
    allow_free(s->allow);
    sl_mutex_fini(&s->lock);
    sl_free(s);
    c->state = NULL;
}

static size_t cmd_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct cmd_state *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_commands_polls_total",
                                   "polls of the commands url and file", false, GET(s->polls)};
    out[1] = (struct sl_comp_stat){"sluice_commands_poll_failures_total",
                                   "polls that gave no usable command set (errors, bad status, "
                                   "invalid JSON)",
                                   false, GET(s->poll_failures)};
    out[2] = (struct sl_comp_stat){"sluice_commands_invalid_total",
                                   "command sets refused as invalid JSON", false, GET(s->invalid)};
    out[3] = (struct sl_comp_stat){"sluice_commands_versions_total",
                                   "new command set versions taken", false, GET(s->versions)};
    out[4] = (struct sl_comp_stat){"sluice_commands_deliveries_total",
                                   "command sets delivered to collectors (200 answers)", false,
                                   GET(s->deliveries)};
    out[5] = (struct sl_comp_stat){"sluice_commands_pings_total", "requests to /agent/ping", false,
                                   GET(s->pings)};
    out[6] = (struct sl_comp_stat){"sluice_commands_bad_requests_total",
                                   "pings answered 400 (missing or malformed id)", false,
                                   GET(s->bad_requests)};
    out[7] = (struct sl_comp_stat){"sluice_commands_deliveries_undone_total",
                                   "200 answers that did not go out completely (the collector "
                                   "gets the set again)",
                                   false, GET(s->undone)};
    out[8] = (struct sl_comp_stat){"sluice_commands_unknown_collectors_total",
                                   "pings answered 400 because the id is not in collectors or "
                                   "collectors_file",
                                   false, GET(s->unknown)};
    out[9] = (struct sl_comp_stat){"sluice_commands_collectors_refused_total",
                                   "pings from new ids answered 503 (max_collectors reached)",
                                   false, GET(s->refused)};
    sl_mutex_lock(&s->lock);
    double known = s->allow ? (double)s->allow->count : -1;
    sl_mutex_unlock(&s->lock);
    if (known < 0)
        known = (double)sl_cmdstore_collector_count(s->store);
    out[10] = (struct sl_comp_stat){"sluice_commands_collectors",
                                    "known collectors: the allow-list's ids, or without one the "
                                    "ids recorded so far (at most max_collectors)",
                                    true, known};
    return 11;
}

static const struct sl_option cmd_opts[] = {
    {"url", SL_OPT_STRING, NULL, offsetof(struct cmd_conf, url),
     "the receiver's commands URL (http/https), polled with If-None-Match", NULL, 0, 0, 0},
    {"file", SL_OPT_STRING, NULL, offsetof(struct cmd_conf, file),
     "a local JSON file as the command set (besides or instead of url), re-read when it changes",
     NULL, 0, 0, 0},
    {"poll_interval", SL_OPT_DURATION, "60s", offsetof(struct cmd_conf, poll_interval),
     "how often url and file are polled", NULL, 0, 0, 0},
    {"listen", SL_OPT_STRING, "0.0.0.0:8113", offsetof(struct cmd_conf, listen),
     "address of GET /agent/ping?id=<collector_id>, \"host:port\"", NULL, 0, 0, 0},
    {"state", SL_OPT_STRING, NULL, offsetof(struct cmd_conf, state),
     "SQLite file of the current set and the delivery history (created if missing)", NULL, 0, 0,
     SL_OPT_REQUIRED},
    {"timeout", SL_OPT_DURATION, "10s", offsetof(struct cmd_conf, timeout),
     "a poll of url that takes longer fails", NULL, 0, 0, 0},
    {"tls_verify", SL_OPT_BOOL, "true", offsetof(struct cmd_conf, tls_verify),
     "verify the server's TLS certificate and name (https)", NULL, 0, 0, 0},
    {"max_body", SL_OPT_SIZE, "1MiB", offsetof(struct cmd_conf, max_body),
     "larger command sets are refused (the current one stays)", NULL, 0, 0, 0},
    {"collectors", SL_OPT_STRING_LIST, NULL, offsetof(struct cmd_conf, collectors),
     "the collector ids served (an allow-list; others get 400); none: any well-formed id, up to "
     "max_collectors",
     NULL, 0, 0, 0},
    {"collectors_file", SL_OPT_STRING, NULL, offsetof(struct cmd_conf, collectors_file),
     "a file of collector ids served (one per line, # comments; with collectors: both), re-read "
     "at each poll when it changed",
     NULL, 0, 0, 0},
    {"max_collectors", SL_OPT_INT, "100000", offsetof(struct cmd_conf, max_collectors),
     "without collectors/collectors_file: new ids beyond this many known ones get 503", NULL, 1,
     100000000, 0},
    {0},
};

const struct sl_component_ops sl_in_commands_ops = {
    .type = "commands",
    .kind = SL_KIND_SOURCE,
    .summary = "poll a command set (url, file) and serve it on /agent/ping, once per collector "
               "per version",
    .options = cmd_opts,
    .conf_len = sizeof(struct cmd_conf),
    .init = cmd_init,
    .fini = cmd_fini,
    .run = cmd_run,
    .output_optional = true,
    .stats = cmd_stats,
};
