/*
 * out_receiver.c — the `receiver` sink: uploads every file a `parquet` sink finishes to the
 * receiver as multipart/form-data (docs/aggregator.md "Upload"; docs/components/receiver.md).
 *
 * The sink has no event inputs (ops->no_inputs): `files_from` names a parquet sink, whose
 * finished-file hook (io/out_parquet.h) hands over each file once it is complete. The spool
 * is the parquet sink's directory tree, `<spool>/{type}/...`; a file stays there until the
 * receiver answered 2xx (then it is deleted, or moved to `<spool>/uploaded/` with
 * keep_files), so delivery is at-least-once across crashes and restarts: at start the spool
 * is scanned and what was left is queued first.
 *
 * DESIGN. Threads:
 *   - the parquet sink's thread runs the hook: it appends the file to the queue (lock) and
 *     wakes the uploader (curl_multi_wakeup). While the spool (queued + in-flight bytes) is
 *     over spool_max_bytes, the hook waits: the parquet sink stops, its queue fills, and the
 *     pipeline's back-pressure reaches the sources. The wait ends when the spool drains, or
 *     once the pipeline stops or its sources are done (nothing more can be slowed down and
 *     the rest is bounded by the queues; waiting then could only deadlock the shutdown).
 *   - one uploader thread of this sink drives a curl multi handle (curl_multi_poll): it
 *     starts up to max_uploads transfers from the head of the queue, and handles their
 *     results. It is started by the first flush() (so a pipeline that is built but never
 *     started, as by `sluice check`, uploads nothing) and stopped by fini().
 *   - the sink's own thread only calls flush().
 * Back-off is per receiver, not per file: a failed attempt (5xx, 401/403, timeout, no
 * connection) sends its file to the tail of the queue and holds every new start until
 * now + backoff(consecutive failures) (full jitter, capped at retry_max). A receiver that is
 * down is then probed by one request at a time instead of one per spooled file, and one
 * file the receiver keeps failing cannot hold the others back. Only the first failure of
 * the transfers started in one back-off step raises the step (`epoch`), so concurrent
 * transfers failing together count once.
 * `description` goes with every request until one that carried it succeeded; then
 * `<spool>/.receiver-state` records it (written to a temporary name, fsynced, renamed), so
 * it is sent once across restarts. Until then one upload at a time, so exactly one
 * successful request carries it.
 * Shutdown: the pipeline closes this sink after the parquet sink (no_inputs), so fini()
 * runs after the parquet sink finished its last files; it keeps uploading for up to
 * drain_timeout and leaves the rest in the spool for the next start (logged).
 */
#include "io/out_receiver.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "core/component.h"
#include "core/pipeline.h"
#include "codec/netevent.h"
#include "io/out_parquet.h"
#include "sys/fdio.h"
#include "sys/thread.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rcv_conf {
    char *files_from;
    char *url;
    char *api_key;
    char *aggregator_id;
    char *description;
    char *spool;
    uint64_t spool_max_bytes;
    int64_t max_uploads;
    int64_t timeout;
    int64_t retry_initial;
    int64_t retry_max;
    bool tls_verify;
    char *ca_file;
    bool keep_files;
    int64_t drain_timeout;
};

static const struct sl_option rcv_opts[] = {
    {"files_from", SL_OPT_STRING, NULL, offsetof(struct rcv_conf, files_from),
     "name of the parquet sink whose finished files are uploaded", NULL, 0, 0, SL_OPT_REQUIRED},
    {"url", SL_OPT_STRING, NULL, offsetof(struct rcv_conf, url),
     "receiver URL (http:// or https://): POST multipart/form-data", NULL, 0, 0, SL_OPT_REQUIRED},
    {"api_key", SL_OPT_STRING, "", offsetof(struct rcv_conf, api_key), "the api-key field", NULL, 0,
     0, 0},
    {"aggregator_id", SL_OPT_STRING, "", offsetof(struct rcv_conf, aggregator_id),
     "the aggregator-id field: 1-128 characters of [A-Za-z0-9._-] (needed)", NULL, 0, 0, 0},
    {"description", SL_OPT_STRING, NULL, offsetof(struct rcv_conf, description),
     "the description field: sent until one upload carrying it succeeded (across restarts)", NULL,
     0, 0, 0},
    {"spool", SL_OPT_STRING, NULL, offsetof(struct rcv_conf, spool),
     "the parquet sink's root directory (default: its path up to /{partition_by}/)", NULL, 0, 0, 0},
    {"spool_max_bytes", SL_OPT_SIZE, "1GiB", offsetof(struct rcv_conf, spool_max_bytes),
     "files waiting to be uploaded, at most; above it the parquet sink waits (back-pressure)", NULL,
     0, 0, 0},
    {"max_uploads", SL_OPT_INT, "4", offsetof(struct rcv_conf, max_uploads),
     "concurrent uploads at most", NULL, 1, 64, 0},
    {"timeout", SL_OPT_DURATION, "60s", offsetof(struct rcv_conf, timeout),
     "an upload that moves no byte (or waits for the answer) this long fails; connecting at most "
     "min(timeout, 10s)",
     NULL, 0, 0, 0},
    {"retry_initial", SL_OPT_DURATION, "1s", offsetof(struct rcv_conf, retry_initial),
     "back-off cap after the first failure (doubles per failure, full jitter); at least 10ms", NULL,
     0, 0, 0},
    {"retry_max", SL_OPT_DURATION, "60s", offsetof(struct rcv_conf, retry_max),
     "back-off cap at most", NULL, 0, 0, 0},
    {"tls_verify", SL_OPT_BOOL, "true", offsetof(struct rcv_conf, tls_verify),
     "verify the receiver's certificate and host name", NULL, 0, 0, 0},
    {"ca_file", SL_OPT_STRING, NULL, offsetof(struct rcv_conf, ca_file),
     "CA certificates (PEM) to verify with, instead of the system's", NULL, 0, 0, 0},
    {"keep_files", SL_OPT_BOOL, "false", offsetof(struct rcv_conf, keep_files),
     "move uploaded files to <spool>/uploaded/ instead of deleting them", NULL, 0, 0, 0},
    {"drain_timeout", SL_OPT_DURATION, "10s", offsetof(struct rcv_conf, drain_timeout),
     "at shutdown, keep uploading this long, then leave the rest in the spool", NULL, 0, 0, 0},
    {0},
};

/* A file in the spool that this run knows about: queued, or in flight. */
struct rcv_file {
    char *path;
    char *rel; /* below the spool (moves to uploaded/ and rejected/ keep it) */
    char *type;
    uint64_t bytes;
    int64_t time_ms;   /* the `time` field */
    uint32_t attempts; /* started so far */
    uint32_t epoch;    /* rcv_sink.failures when the attempt started */
    bool with_desc;    /* this attempt carries `description` */
    CURL *easy;        /* in flight */
    curl_mime *mime;
    char err[CURL_ERROR_SIZE];
    char body[256]; /* start of the answer, for logs */
    size_t body_len;
    struct rcv_file *next;
};

struct rcv_sink {
    struct sl_component *c;
    const struct rcv_conf *cf;
    char *spool; /* without a trailing '/' */
    CURLM *multi;
    struct curl_slist *headers;
    struct sl_thread thread;
    bool thread_started; /* sink thread, then fini (after the join) */
    bool drained;        /* rcv_drain ran (sink thread's finish, or fini): no uploader again */

    struct sl_mutex lock;
    struct sl_cond room;              /* guarded_by: lock — the spool shrank */
    struct rcv_file *head, *tail;     /* guarded_by: lock — waiting to start, FIFO */
    bool closing;                     /* guarded_by: lock — fini: drain then stop */
    int64_t drain_deadline;           /* guarded_by: lock */
    bool full;                        /* guarded_by: lock — in a back-pressure episode */
    atomic_uint_fast64_t spool_bytes; /* written under lock; read by stats */
    atomic_uint_fast64_t spool_files; /* written under lock; read by stats */

    /* uploader thread only (set up by init before it starts) */
    struct rcv_file *inflight;
    uint32_t ninflight;
    uint32_t failures;   /* consecutive failed attempts */
    int64_t next_try_at; /* monotonic: no new start before */
    bool desc_pending;   /* description set and never delivered */
    uint64_t rng;
    struct sl_log_limit lim, cred_lim;

    atomic_uint_fast64_t in_flight, uploaded_files, uploaded_bytes, upload_failures, rejected,
        backpressure;
};

/* ---- pure parts (out_receiver.h) */

bool sl_receiver_rejects(long code)
{
    /* the answers that say this file will never be taken: malformed (400), too large (413),
     * not Parquet (415), unprocessable (422). Every other failure (404 and 405 from a wrong
     * url, 407 and 421 from proxies, 401/403 credentials, 408, 409, 429, 5xx) is the
     * receiver's or the configuration's, and is retried: a file is never given up because
     * the receiver was misconfigured for a while. */
    return code == 400 || code == 413 || code == 415 || code == 422;
}

int64_t sl_receiver_backoff_ns(int64_t initial_ns, int64_t max_ns, uint32_t failures, uint64_t rnd)
{
    if (initial_ns <= 0 || failures == 0)
        return 0;
    if (max_ns < initial_ns)
        max_ns = initial_ns;
    int64_t cap = initial_ns;
    for (uint32_t i = 1; i < failures && cap < max_ns; i++)
        cap = cap > max_ns / 2 ? max_ns : cap * 2;
    if (cap > max_ns)
        cap = max_ns;
    return (int64_t)(rnd % ((uint64_t)cap + 1));
}

struct scan_acc {
    struct sl_receiver_spooled *v;
    size_t n, cap;
};

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

static int scan_dir(const char *spool, const char *rel, struct scan_acc *acc)
{
    char dpath[PATH_MAX];
    if ((size_t)snprintf(dpath, sizeof dpath, "%s%s%s", spool, rel[0] ? "/" : "", rel) >=
        sizeof dpath)
        return SL_E2BIG;
    DIR *d = opendir(dpath);
    if (!d) {
        int e = errno;
        if (!rel[0])
            return e == ENOENT ? 0 : -e;
        if (e != ENOENT) /* one bad directory does not hold back the rest of the spool */
            sl_warn("receiver", "spool directory %s skipped: %s", dpath, sl_strerror(-e));
        return 0;
    }
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.')
            continue; /* ".", "..", temporary files, the state file */
        if (!rel[0] && (!strcmp(name, "uploaded") || !strcmp(name, "rejected")))
            continue;
        char sub[PATH_MAX], full[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", name) >=
                sizeof sub ||
            (size_t)snprintf(full, sizeof full, "%s/%s", spool, sub) >= sizeof full) {
            sl_warn("receiver", "spool entry %s/%s/%s skipped: path too long", spool, rel, name);
            continue;
        }
        struct stat st;
        if (lstat(full, &st) < 0)
            continue; /* gone meanwhile */
        if (S_ISDIR(st.st_mode)) {
            rc = scan_dir(spool, sub, acc);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !has_suffix(name, ".parquet"))
            continue;
        if (acc->n == acc->cap) {
            acc->cap = acc->cap ? acc->cap * 2 : 16;
            acc->v = sl_xrealloc(acc->v, acc->cap * sizeof(*acc->v));
        }
        struct sl_receiver_spooled *f = &acc->v[acc->n++];
        f->path = sl_xstrdup(full);
        f->rel = sl_xstrdup(sub);
        const char *slash = strchr(sub, '/');
        f->type = slash ? sl_xstrndup(sub, (size_t)(slash - sub)) : sl_xstrdup("");
        f->bytes = (uint64_t)st.st_size;
        f->mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    }
    closedir(d);
    return rc;
}

static int cmp_spooled(const void *a, const void *b)
{
    const struct sl_receiver_spooled *x = a, *y = b;
    if (x->mtime_ms != y->mtime_ms)
        return x->mtime_ms < y->mtime_ms ? -1 : 1;
    return strcmp(x->rel, y->rel);
}

int sl_receiver_scan(const char *spool, struct sl_receiver_spooled **out, size_t *count)
{
    struct scan_acc acc = {0};
    int rc = scan_dir(spool, "", &acc);
    if (rc) {
        sl_receiver_scan_free(acc.v, acc.n);
        return rc;
    }
    if (acc.n > 1)
        qsort(acc.v, acc.n, sizeof(*acc.v), cmp_spooled);
    *out = acc.v;
    *count = acc.n;
    return 0;
}

void sl_receiver_scan_free(struct sl_receiver_spooled *v, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        sl_free(v[i].path);
        sl_free(v[i].rel);
        sl_free(v[i].type);
    }
    sl_free(v);
}

/* ---- spool bookkeeping */

static uint64_t next_rand(struct rcv_sink *s)
{
    /* splitmix64: jitter needs no more */
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct rcv_file *file_new(const char *path, const char *rel, const char *type,
                                 uint64_t bytes, int64_t time_ms)
{
    struct rcv_file *f = sl_xcalloc(1, sizeof(*f));
    f->path = sl_xstrdup(path);
    f->rel = sl_xstrdup(rel);
    f->type = sl_xstrdup(type);
    f->bytes = bytes;
    f->time_ms = time_ms;
    return f;
}

static void file_free(struct rcv_file *f)
{
    if (f->easy)
        curl_easy_cleanup(f->easy);
    if (f->mime)
        curl_mime_free(f->mime);
    sl_free(f->path);
    sl_free(f->rel);
    sl_free(f->type);
    sl_free(f);
}

/* Append f to the queue and count it in the spool. Caller holds s->lock. */
static void enqueue_locked(struct rcv_sink *s, struct rcv_file *f, bool count)
{
    f->next = NULL;
    if (s->tail)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    if (count) {
        atomic_fetch_add_explicit(&s->spool_bytes, f->bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->spool_files, 1, memory_order_relaxed);
    }
}

/* f left the spool (uploaded, rejected, vanished): uncount it, end a back-pressure episode
 * once below the bound. Takes s->lock. */
static void spool_release(struct rcv_sink *s, const struct rcv_file *f)
{
    sl_mutex_lock(&s->lock);
    atomic_fetch_sub_explicit(&s->spool_bytes, f->bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->spool_files, 1, memory_order_relaxed);
    if (s->full && atomic_load(&s->spool_bytes) <= s->cf->spool_max_bytes) {
        s->full = false;
        sl_info(s->c->name, "spool below spool_max_bytes again: the parquet sink goes on");
    }
    sl_cond_broadcast(&s->room);
    sl_mutex_unlock(&s->lock);
}

/* rename without replacing: `name-1.parquet`, `-2`, ... when taken; creates directories */
static int move_noreplace(const char *from, const char *to)
{
    int rc = sl_fs_mkdir_parents(to);
    if (rc)
        return rc;
    char used[PATH_MAX + 32];
    return sl_fs_rename_unique(from, to, SL_FS_VARIANT_STEM, used, sizeof used);
}

/* Move f to <spool>/<sub>/<rel>. */
static int move_under(struct rcv_sink *s, const struct rcv_file *f, const char *sub)
{
    char to[PATH_MAX];
    if ((size_t)snprintf(to, sizeof to, "%s/%s/%s", s->spool, sub, f->rel) >= sizeof to)
        return SL_E2BIG;
    return move_noreplace(f->path, to);
}

/* ---- the description flag: <spool>/.receiver-state */

static bool state_desc_sent(const char *spool)
{
    char path[PATH_MAX], line[128];
    snprintf(path, sizeof path, "%s/.receiver-state", spool);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return false;
    bool sent = false;
    while (fgets(line, sizeof line, fp))
        sent |= strncmp(line, "description_sent=1", 18) == 0;
    fclose(fp);
    return sent;
}

static int state_write(const char *spool)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/.receiver-state", spool);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    static const char text[] = "# sluice receiver sink state\ndescription_sent=1\n";
    int rc = sl_fd_write_all(fd, text, sizeof text - 1);
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* the rename is durable */
    if (dfd < 0 || fsync(dfd) < 0)
        rc = -errno;
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* ---- uploads (uploader thread) */

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct rcv_file *f = ud;
    size_t n = size * nmemb, room = sizeof(f->body) - 1 - f->body_len;
    memcpy(f->body + f->body_len, ptr, n < room ? n : room);
    f->body_len += n < room ? n : room;
    f->body[f->body_len] = 0;
    return n;
}

static int add_field(curl_mime *mime, const char *name, const char *value)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    if (!part || curl_mime_name(part, name) != CURLE_OK ||
        curl_mime_data(part, value ? value : "", CURL_ZERO_TERMINATED) != CURLE_OK)
        return SL_ENOMEM;
    return 0;
}

/* Start one upload of f: 0, a negated errno when the file is not there, SL_ENOMEM. */
static int upload_start(struct rcv_sink *s, struct rcv_file *f)
{
    const struct rcv_conf *cf = s->cf;
    struct stat st;
    if (stat(f->path, &st) < 0)
        return -errno;
    f->err[0] = 0;
    f->body[0] = 0;
    f->body_len = 0;
    f->easy = curl_easy_init();
    if (!f->easy)
        return SL_ENOMEM;
    f->mime = curl_mime_init(f->easy);
    if (!f->mime)
        return SL_ENOMEM;
    char time_text[32];
    snprintf(time_text, sizeof time_text, "%lld", (long long)f->time_ms);
    f->with_desc = s->desc_pending;
    const char *base = strrchr(f->path, '/');
    base = base ? base + 1 : f->path;
    int rc = add_field(f->mime, "api-key", cf->api_key);
    if (!rc)
        rc = add_field(f->mime, "aggregator-id", cf->aggregator_id);
    if (!rc)
        rc = add_field(f->mime, "type", f->type);
    if (!rc)
        rc = add_field(f->mime, "time", time_text);
    if (!rc && f->with_desc)
        rc = add_field(f->mime, "description", cf->description);
    if (rc)
        return rc;
    curl_mimepart *part = curl_mime_addpart(f->mime);
    if (!part || curl_mime_name(part, "file") != CURLE_OK ||
        curl_mime_filedata(part, f->path) != CURLE_OK ||
        curl_mime_filename(part, base) != CURLE_OK ||
        curl_mime_type(part, "application/octet-stream") != CURLE_OK)
        return SL_ENOMEM;
    CURL *h = f->easy;
    curl_easy_setopt(h, CURLOPT_URL, cf->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_MIMEPOST, f->mime);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sluice/" SL_VERSION);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700 /* 7.87.0 */
    /* a resolver thread still busy at cleanup is not waited for (shutdown stays bounded) */
    curl_easy_setopt(h, CURLOPT_QUICK_EXIT, 1L);
#endif
    /* not CURLOPT_TIMEOUT_MS: a total limit would fail every attempt of a file too big for
     * the link, forever; a transfer fails when it stalls (under 1 byte/s for `timeout`,
     * waiting for the answer included) */
    long timeout_ms = (long)(cf->timeout / 1000000);
    long stall_s = (timeout_ms + 999) / 1000;
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, cf->tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, cf->tls_verify ? 2L : 0L);
    if (cf->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, cf->ca_file);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, f->err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(h, CURLOPT_PRIVATE, f);
    if (curl_multi_add_handle(s->multi, h) != CURLM_OK)
        return SL_ENOMEM;
    f->attempts++;
    f->epoch = s->failures;
    f->next = s->inflight;
    s->inflight = f;
    s->ninflight++;
    atomic_fetch_add_explicit(&s->in_flight, 1, memory_order_relaxed);
    return 0;
}

static void transfer_end(struct rcv_sink *s, struct rcv_file *f)
{
    if (f->easy) {
        curl_multi_remove_handle(s->multi, f->easy);
        curl_easy_cleanup(f->easy);
        f->easy = NULL;
    }
    if (f->mime) {
        curl_mime_free(f->mime);
        f->mime = NULL;
    }
}

static void inflight_unlink(struct rcv_sink *s, struct rcv_file *f)
{
    struct rcv_file **pp = &s->inflight;
    while (*pp && *pp != f)
        pp = &(*pp)->next;
    sl_assert(*pp == f);
    *pp = f->next;
    f->next = NULL;
    s->ninflight--;
    atomic_fetch_sub_explicit(&s->in_flight, 1, memory_order_relaxed);
}

static void on_success(struct rcv_sink *s, struct rcv_file *f, long code, int64_t ms)
{
    struct sl_component *c = s->c;
    if (f->with_desc && s->desc_pending) {
        int rc = state_write(s->spool);
        if (rc)
            sl_error(c->name,
                     "cannot record that the description was sent (%s/.receiver-state):"
                     " %s; it will be sent again after a restart",
                     s->spool, sl_strerror(rc));
        s->desc_pending = false;
    }
    int rc = s->cf->keep_files ? move_under(s, f, "uploaded") : unlink(f->path) < 0 ? -errno : 0;
    if (rc && rc != -ENOENT)
        sl_error(c->name, "uploaded %s but cannot %s it: %s", f->path,
                 s->cf->keep_files ? "move" : "delete", sl_strerror(rc));
    atomic_fetch_add_explicit(&s->uploaded_files, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->uploaded_bytes, f->bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.bytes_out, f->bytes, memory_order_relaxed);
    sl_info(c->name, "uploaded file path=%s type=%s bytes=%llu status=%ld ms=%lld attempts=%u%s",
            f->path, f->type, (unsigned long long)f->bytes, code, (long long)ms, f->attempts,
            f->with_desc ? " description=sent" : "");
    s->failures = 0;
    s->next_try_at = 0;
    spool_release(s, f);
    file_free(f);
}

static void on_rejected(struct rcv_sink *s, struct rcv_file *f, long code)
{
    struct sl_component *c = s->c;
    int rc = move_under(s, f, "rejected");
    atomic_fetch_add_explicit(&s->rejected, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
    sl_error(c->name, "receiver rejected %s (type=%s): HTTP %ld %s; %s", f->path, f->type, code,
             f->body, rc ? "cannot move it to rejected/" : "moved to rejected/");
    spool_release(s, f);
    file_free(f);
}

static void on_retry(struct rcv_sink *s, struct rcv_file *f, const char *why)
{
    struct sl_component *c = s->c;
    atomic_fetch_add_explicit(&s->upload_failures, 1, memory_order_relaxed);
    int64_t now = sl_clock_mono_ns();
    if (f->epoch == s->failures) { /* the first failure since the last back-off step */
        s->failures++;
        int64_t wait = sl_receiver_backoff_ns(s->cf->retry_initial, s->cf->retry_max, s->failures,
                                              next_rand(s));
        s->next_try_at = now + wait;
        sl_log_ratelimited(&s->lim, 2, SL_LOG_WARN, c->name,
                           "upload of %s failed: %s; next try in %lld ms (failure %u in a row)",
                           f->path, why, (long long)(wait / 1000000), s->failures);
    }
    sl_mutex_lock(&s->lock);
    enqueue_locked(s, f, false);
    sl_mutex_unlock(&s->lock);
}

static void on_done(struct rcv_sink *s, struct rcv_file *f, CURLcode res)
{
    long code = 0;
    double secs = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME, &secs);
    transfer_end(s, f);
    inflight_unlink(s, f);
    char why[CURL_ERROR_SIZE + 64];
    if (res != CURLE_OK) {
        struct stat st;
        if (stat(f->path, &st) < 0 && errno == ENOENT) {
            sl_warn(s->c->name, "%s vanished from the spool before it was uploaded", f->path);
            spool_release(s, f);
            file_free(f);
            return;
        }
        snprintf(why, sizeof why, "%s", f->err[0] ? f->err : curl_easy_strerror(res));
        on_retry(s, f, why);
    } else if (code >= 200 && code < 300) {
        on_success(s, f, code, (int64_t)(secs * 1000));
    } else if (code == 401 || code == 403) {
        snprintf(why, sizeof why,
                 "HTTP %ld: the receiver refused the credentials (api_key, "
                 "aggregator_id)",
                 code);
        sl_log_ratelimited(&s->cred_lim, 1, SL_LOG_ERROR, s->c->name, "credential error: %s", why);
        on_retry(s, f, why);
    } else if (sl_receiver_rejects(code)) {
        on_rejected(s, f, code);
    } else {
        snprintf(why, sizeof why, "HTTP %ld %.120s", code, f->body);
        on_retry(s, f, why);
    }
}

/* Uploads at once: one until the description was delivered (exactly one successful
 * request carries it), then max_uploads. */
static uint32_t upload_limit(const struct rcv_sink *s)
{
    return s->desc_pending ? 1 : (uint32_t)s->cf->max_uploads;
}

/* Start what the limits allow, from the head of the queue. */
static void start_some(struct rcv_sink *s, int64_t now)
{
    uint32_t limit = upload_limit(s);
    while (s->ninflight < limit && now >= s->next_try_at) {
        sl_mutex_lock(&s->lock);
        struct rcv_file *f = s->head;
        bool stop = !f || (s->closing && now >= s->drain_deadline);
        if (!stop) {
            s->head = f->next;
            if (!s->head)
                s->tail = NULL;
            f->next = NULL;
        }
        sl_mutex_unlock(&s->lock);
        if (stop)
            return;
        int rc = upload_start(s, f);
        if (rc == 0)
            continue;
        transfer_end(s, f);
        if (rc == -ENOENT) {
            sl_warn(s->c->name, "%s vanished from the spool before it was uploaded", f->path);
            spool_release(s, f);
            file_free(f);
            continue;
        }
        char why[96];
        snprintf(why, sizeof why, "cannot start: %s", sl_strerror(rc));
        f->epoch = s->failures;
        on_retry(s, f, why);
        return;
    }
}

static void *uploader_main(void *arg)
{
    struct rcv_sink *s = arg;
    for (;;) {
        int64_t now = sl_clock_mono_ns();
        start_some(s, now);
        int running = 0;
        curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            on_done(s, (struct rcv_file *)priv, m->data.result);
        }
        now = sl_clock_mono_ns();
        sl_mutex_lock(&s->lock);
        bool closing = s->closing, queued = s->head != NULL;
        int64_t deadline = s->drain_deadline;
        sl_mutex_unlock(&s->lock);
        if (closing && !s->ninflight && (!queued || now >= deadline || s->next_try_at > deadline))
            break; /* drained, out of time, or the next try would be too late */
        if (closing && now >= deadline)
            break; /* in-flight transfers are abandoned; their files stay */
        int64_t wait_ns = 1000000000;
        if (queued && s->ninflight < upload_limit(s))
            wait_ns = s->next_try_at > now ? s->next_try_at - now : 0;
        if (wait_ns > 1000000000)
            wait_ns = 1000000000;
        if (closing && deadline - now < wait_ns)
            wait_ns = deadline - now;
        if (wait_ns > 0 || running)
            curl_multi_poll(s->multi, NULL, 0, (int)((wait_ns + 999999) / 1000000), NULL);
    }
    return NULL;
}

/* ---- the hook (the parquet sink's thread) */

static bool pipeline_ending(struct rcv_sink *s)
{
    return sl_source_stopping(s->c) || sl_pipeline_sources_done(s->c->pipe);
}

static void on_finished(void *ctx, const struct sl_parquet_finished *n)
{
    struct rcv_sink *s = ctx;
    size_t sl = strlen(s->spool);
    const char *p = n->path, *rel;
    while (p[0] == '.' && p[1] == '/') /* the spool is kept without "./" */
        p += 2;
    if (!strncmp(p, s->spool, sl) && p[sl] == '/')
        rel = p + sl + 1;
    else
        rel = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    /* time = mtime, as for a left-over file: a file sent again after a crash has the same
     * `time`, and so the same name at the receiver */
    struct stat st;
    int64_t time_ms = sl_clock_wall_ns() / 1000000;
    uint64_t bytes = n->bytes;
    if (stat(n->path, &st) == 0) {
        time_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        bytes = (uint64_t)st.st_size;
    }
    struct rcv_file *f = file_new(n->path, rel, n->type, bytes, time_ms);
    sl_mutex_lock(&s->lock);
    enqueue_locked(s, f, true);
    while (atomic_load(&s->spool_bytes) > s->cf->spool_max_bytes && !s->closing &&
           !pipeline_ending(s)) {
        if (!s->full) {
            s->full = true;
            atomic_fetch_add_explicit(&s->backpressure, 1, memory_order_relaxed);
            sl_warn(s->c->name,
                    "spool full: %llu bytes in %llu files over spool_max_bytes %llu; the "
                    "parquet sink waits for uploads (back-pressure to the sources)",
                    (unsigned long long)atomic_load(&s->spool_bytes),
                    (unsigned long long)atomic_load(&s->spool_files),
                    (unsigned long long)s->cf->spool_max_bytes);
        }
        curl_multi_wakeup(s->multi);
        sl_cond_wait_until(&s->room, &s->lock, sl_clock_mono_ns() + 200000000);
    }
    sl_mutex_unlock(&s->lock);
    curl_multi_wakeup(s->multi);
}

/* ---- ops */

static int rcv_flush(struct sl_component *c)
{
    struct rcv_sink *s = c->state;
    if (!s->thread_started && !s->drained) {
        char name[16];
        snprintf(name, sizeof name, "sl-up-%.9s", c->name);
        sl_assert(sl_thread_start(&s->thread, name, uploader_main, s) == 0);
        s->thread_started = true;
    }
    return 0;
}

static size_t rcv_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct rcv_sink *s = c->state;
    if (!s)
        return 0;
#define L(x) (double)atomic_load_explicit(&s->x, memory_order_relaxed)
    out[0] = (struct sl_comp_stat){"sluice_receiver_uploads_in_flight", "uploads in progress", true,
                                   L(in_flight)};
    out[1] = (struct sl_comp_stat){"sluice_receiver_uploaded_files_total",
                                   "files the receiver accepted (2xx)", false, L(uploaded_files)};
    out[2] =
        (struct sl_comp_stat){"sluice_receiver_uploaded_bytes_total",
                              "bytes of the files the receiver accepted", false, L(uploaded_bytes)};
    out[3] = (struct sl_comp_stat){"sluice_receiver_upload_failures_total",
                                   "failed attempts, retried (5xx, 401/403, timeouts, connection)",
                                   false, L(upload_failures)};
    out[4] = (struct sl_comp_stat){"sluice_receiver_rejected_files_total",
                                   "files the receiver refused (4xx), moved to rejected/", false,
                                   L(rejected)};
    out[5] =
        (struct sl_comp_stat){"sluice_receiver_spool_bytes",
                              "bytes of the files waiting to be uploaded", true, L(spool_bytes)};
    out[6] = (struct sl_comp_stat){"sluice_receiver_spool_files", "files waiting to be uploaded",
                                   true, L(spool_files)};
    out[7] = (struct sl_comp_stat){"sluice_receiver_backpressure_total",
                                   "times the spool was full and the parquet sink had to wait",
                                   false, L(backpressure)};
#undef L
    return 8;
}

static void free_list(struct rcv_file *f, uint64_t *n, uint64_t *bytes)
{
    while (f) {
        struct rcv_file *next = f->next;
        (*n)++;
        *bytes += f->bytes;
        file_free(f);
        f = next;
    }
}

/* Stop the uploader: keep uploading for up to drain_timeout, then leave the rest in the
 * spool. Runs as the sink's finish (its thread, after the parquet sink finished its last
 * files), so the pipeline's end and the last metrics push come after the drain; fini runs
 * it when finish did not (a pipeline stopped some other way). */
static void rcv_drain(struct rcv_sink *s)
{
    struct sl_component *c = s->c;
    sl_mutex_lock(&s->lock);
    bool run = s->thread_started && !s->drained;
    s->drained = true;
    s->closing = true;
    s->drain_deadline = sl_clock_mono_ns() + s->cf->drain_timeout;
    bool any = s->head || atomic_load(&s->in_flight);
    sl_cond_broadcast(&s->room);
    sl_mutex_unlock(&s->lock);
    if (!run)
        return;
    if (any)
        sl_info(c->name, "draining: %llu file(s) to upload, for up to %lld ms",
                (unsigned long long)atomic_load(&s->spool_files),
                (long long)(s->cf->drain_timeout / 1000000));
    curl_multi_wakeup(s->multi);
    sl_thread_join(&s->thread);
}

static int rcv_flush(struct sl_component *c);

static void rcv_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    if (!c->state)
        return;
    rcv_flush(c); /* a run shorter than one flush interval: the uploader starts here */
    rcv_drain(c->state);
}

static void rcv_fini(struct sl_component *c)
{
    struct rcv_sink *s = c->state;
    if (!s)
        return;
    rcv_drain(s);
    uint64_t n = 0, bytes = 0;
    for (struct rcv_file *f = s->inflight; f; f = f->next)
        transfer_end(s, f);
    free_list(s->inflight, &n, &bytes);
    free_list(s->head, &n, &bytes);
    if (n && s->thread_started) /* else only built (`sluice check`): nothing was tried */
        sl_warn(c->name,
                "%llu file(s) (%llu bytes) left in the spool %s: uploaded at the next start",
                (unsigned long long)n, (unsigned long long)bytes, s->spool);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    curl_global_cleanup();
    sl_cond_fini(&s->room);
    sl_mutex_fini(&s->lock);
    sl_free(s->spool);
    sl_free(s);
    c->state = NULL;
}

/* "./a//b/" -> "a//b": enough to compare the spool with the parquet path's prefix */
static char *norm_dir(const char *p, size_t n)
{
    while (n >= 2 && p[0] == '.' && p[1] == '/') {
        p += 2;
        n -= 2;
        while (n && *p == '/' && n > 1) {
            p++;
            n--;
        }
    }
    while (n > 1 && p[n - 1] == '/')
        n--;
    return sl_xstrndup(p, n);
}

/* Resolve files_from and the spool. The layout <spool>/{type}/... is what makes the type of
 * a left-over file known at start (its first directory). */
static int resolve_spool(struct sl_component *c, struct sl_diag *d, struct sl_component **pq)
{
    const struct rcv_conf *cf = c->conf;
    struct rcv_sink *s = c->state;
    struct sl_component *src = sl_pipeline_find(c->pipe, cf->files_from);
    if (!src || src->ops->kind != SL_KIND_SINK || strcmp(src->ops->type, "parquet") != 0) {
        sl_component_diag_opt(c, "files_from", d);
        sl_diag_hint(d, "files_from names a sink of type parquet (sinks: {x: {type: parquet}})");
        return sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': files_from '%s' %s", c->name,
                           cf->files_from, src ? "is not a parquet sink" : "names no component");
    }
    const char *path, *part;
    sl_out_parquet_layout(src, &path, &part);
    if (!part) {
        sl_component_diag_opt(c, "files_from", d);
        sl_diag_hint(d,
                     "set partition_by: <type field> on '%s', with path: "
                     "\"<spool>/{<field>}/...\"",
                     src->name);
        return sl_diag_set(d, SL_ECONFIG,
                           "receiver sink '%s': parquet sink '%s' has no partition_by (the "
                           "message type of each file)",
                           c->name, src->name);
    }
    char seg[256];
    snprintf(seg, sizeof seg, "/{%s}/", part);
    const char *at = strstr(path, seg);
    bool literal = at != NULL;
    for (const char *p = path; at && p < at; p++)
        literal &= *p != '{' && *p != '%';
    if (!at || !literal || at == path) {
        sl_component_diag_opt(c, "files_from", d);
        sl_diag_hint(d, "e.g. path: \"spool/{%s}/{%s}-%%Y%%m%%d-%%H%%M%%S.parquet\"", part, part);
        return sl_diag_set(d, SL_ECONFIG,
                           "receiver sink '%s': the path of parquet sink '%s' must be "
                           "<spool>/{%s}/... (a fixed directory, then the type), not \"%s\"",
                           c->name, src->name, part, path);
    }
    s->spool = norm_dir(path, (size_t)(at - path));
    if (cf->spool) {
        char *want = norm_dir(cf->spool, strlen(cf->spool));
        bool same = strcmp(want, s->spool) == 0;
        sl_free(want);
        if (!same) {
            sl_component_diag_opt(c, "spool", d);
            sl_diag_hint(d,
                         "the parquet sink '%s' writes under \"%s\"; remove spool or set it "
                         "to that",
                         src->name, s->spool);
            return sl_diag_set(d, SL_ECONFIG,
                               "receiver sink '%s': spool \"%s\" is not where '%s' writes", c->name,
                               cf->spool, src->name);
        }
    }
    *pq = src;
    return 0;
}

static int rcv_init(struct sl_component *c, struct sl_diag *d)
{
    const struct rcv_conf *cf = c->conf;
    struct rcv_sink *s = sl_xcalloc(1, sizeof(*s));
    s->c = c;
    s->cf = cf;
    sl_mutex_init(&s->lock);
    sl_cond_init(&s->room);
    c->state = s;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sl_component *pq = NULL;
    int rc = resolve_spool(c, d, &pq);
    if (rc)
        goto fail;
    if (strncmp(cf->url, "http://", 7) != 0 && strncmp(cf->url, "https://", 8) != 0) {
        sl_component_diag_opt(c, "url", d);
        sl_diag_hint(d, "e.g. url: \"https://receiver.example.com/s3\"");
        rc = sl_diag_set(d, SL_ECONFIG,
                         "receiver sink '%s': url must start with http:// or "
                         "https://",
                         c->name);
        goto fail;
    }
    if (cf->ca_file && access(cf->ca_file, R_OK) < 0) {
        rc = -errno;
        sl_component_diag_opt(c, "ca_file", d);
        rc = sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': cannot read ca_file %s: %s", c->name,
                         cf->ca_file, sl_strerror(rc));
        goto fail;
    }
    if (cf->retry_initial < 10 * 1000000LL) { /* 0 would retry in a busy loop */
        sl_component_diag_opt(c, "retry_initial", d);
        rc = sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': retry_initial must be at least 10ms",
                         c->name);
        goto fail;
    }
    if (!sl_aggregator_id_ok(cf->aggregator_id, strlen(cf->aggregator_id))) {
        sl_component_diag_opt(c, "aggregator_id", d);
        sl_diag_hint(d, "e.g. aggregator_id: agg-1 (the aggregator's -q/--uniqueId)");
        rc = sl_diag_set(d, SL_ECONFIG,
                         "receiver sink '%s': aggregator_id must be 1-128 characters of "
                         "[A-Za-z0-9._-] (the receiver refuses any other, and the files would "
                         "be given up)",
                         c->name);
        goto fail;
    }
    if (cf->description && strlen(cf->description) > 4096) {
        sl_component_diag_opt(c, "description", d);
        rc = sl_diag_set(d, SL_ECONFIG,
                         "receiver sink '%s': description of %zu bytes; the receiver takes at "
                         "most 4096",
                         c->name, strlen(cf->description));
        goto fail;
    }
    if (cf->timeout <= 0) {
        sl_component_diag_opt(c, "timeout", d);
        rc = sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': timeout must be positive", c->name);
        goto fail;
    }
    char probe[PATH_MAX + 4];
    snprintf(probe, sizeof probe, "%s/x", s->spool);
    if ((rc = sl_fs_mkdir_parents(probe)) != 0) {
        sl_component_diag_opt(c, cf->spool ? "spool" : "files_from", d);
        rc = sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': cannot create the spool %s: %s",
                         c->name, s->spool, sl_strerror(rc));
        goto fail;
    }
    s->multi = curl_multi_init();
    s->headers = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    if (!s->multi || !s->headers) {
        rc = sl_diag_set(d, SL_ENOMEM, "receiver sink '%s': cannot set up libcurl", c->name);
        goto fail;
    }
    s->rng = (uint64_t)sl_clock_wall_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)s;
    s->desc_pending = cf->description && cf->description[0] && !state_desc_sent(s->spool);
    /* what a previous run left: first in the queue */
    struct sl_receiver_spooled *v = NULL;
    size_t nv = 0;
    if ((rc = sl_receiver_scan(s->spool, &v, &nv)) != 0) {
        sl_component_diag_opt(c, cf->spool ? "spool" : "files_from", d);
        rc = sl_diag_set(d, SL_ECONFIG, "receiver sink '%s': cannot read the spool %s: %s", c->name,
                         s->spool, sl_strerror(rc));
        goto fail;
    }
    for (size_t i = 0; i < nv; i++)
        enqueue_locked(s, file_new(v[i].path, v[i].rel, v[i].type, v[i].bytes, v[i].mtime_ms),
                       true);
    if (nv)
        sl_info(c->name, "found %zu file(s) (%llu bytes) left in the spool %s: they go first", nv,
                (unsigned long long)atomic_load(&s->spool_bytes), s->spool);
    sl_receiver_scan_free(v, nv);
    if (!sl_out_parquet_set_hook(pq, on_finished, s)) {
        sl_component_diag_opt(c, "files_from", d);
        rc = sl_diag_set(d, SL_ECONFIG,
                         "receiver sink '%s': parquet sink '%s' is already uploaded by another "
                         "receiver sink (one receiver per parquet sink)",
                         c->name, pq->name);
        goto fail;
    }
    return 0;
fail:
    rcv_fini(c);
    return rc;
}

static void rcv_fed_by(const struct sl_component *c, char *out, size_t n)
{
    const struct rcv_conf *cf = c->conf;
    snprintf(out, n, "files of %s", cf->files_from);
}

const struct sl_component_ops sl_out_receiver_ops = {
    .type = "receiver",
    .kind = SL_KIND_SINK,
    .summary = "upload the files of a parquet sink to the receiver (multipart POST, spooled)",
    .options = rcv_opts,
    .conf_len = sizeof(struct rcv_conf),
    .init = rcv_init,
    .fini = rcv_fini,
    .flush = rcv_flush,
    .finish = rcv_finish,
    .flush_interval_ns = 100 * 1000000LL,
    .stats = rcv_stats,
    .no_inputs = true,
    .fed_by = rcv_fed_by,
};
