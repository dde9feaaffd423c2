/*
 * in_commands.c — the `commands` source: poll a command set (the receiver's commands URL, a
 * local file, or both) and hand it to the collectors that ask for it, once each per version.
 *
 *   GET /agent/ping?id=<collector_id>
 *     200 application/json   the current set, the first time this collector asks for it
 *     204                    already delivered to this collector, or no set known yet
 *     400 {"error":...}      id missing or not 1-128 bytes of [A-Za-z0-9._:-]
 *     405 other methods (HEAD too: it would use up the delivery);  404 other paths
 *     500                    the delivery could not be recorded
 *
 * Every poll_interval the source polls its inputs: `file` (re-read when its size, mtime or
 * inode changed) then `url` (GET with If-None-Match when the last answer carried an ETag;
 * 304: unchanged). A body must be valid JSON (else it is logged, counted, and the current
 * set stays). A body whose content hash (XXH3-64, 16 hex digits: the "version") differs
 * from what that input gave last time and from the current set becomes the new version: in
 * one SQLite transaction the set is replaced and the delivery history cleared
 * (state/command_store.h), then pings see it. When both inputs are set, the one that changed
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
};

/* What one input (the url or the file) last gave. Source thread only (after init). */
struct input {
    const char *name;     /* "url" | "file" */
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
    /* the current failure, logged when it changes and every RELOG_NS while it lasts */
    char failure[256];
    int64_t failure_logged_ns;
};

struct cmdset; /* below */

struct cmd_state {
    struct sl_cmdstore *store;
    struct MHD_Daemon *mhd;
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
    struct input in_url, in_file;

    sl_sym sym_type, sym_collector, sym_version, sym_ts, sym_bytes, sym_origin;
    atomic_uint_fast64_t polls, poll_failures, invalid, versions, deliveries, undone, pings,
        bad_requests;
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
        sl_warn(c->name, "%s %s: %s (the current command set stays)", in->name, in->location, msg);
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
        return rc; /* the input's hash and ETag stay old: the next poll tries again */
    }
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
    if (in->have_sig && st.st_dev == in->dev && st.st_ino == in->ino && st.st_size == in->size &&
        st.st_mtim.tv_sec == in->mtime.tv_sec && st.st_mtim.tv_nsec == in->mtime.tv_nsec)
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
    if (!err && !too_big && b.len <= cf->max_body &&
        offer(c, in, b.len ? b.ptr : "", b.len, "") == 0) {
        in->have_sig = true;
        in->dev = st.st_dev;
        in->ino = st.st_ino;
        in->size = st.st_size;
        in->mtime = st.st_mtim;
    }
    sl_buf_fini(&b);
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

static enum MHD_Result ping(struct sl_component *c, struct MHD_Connection *conn,
                            struct ping_req *rq)
{
    struct cmd_state *s = c->state;
    const char *id = NULL;
    size_t id_len = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND, "id", 2, &id, &id_len) !=
        MHD_YES)
        id = NULL;
    const char *why = sl_commands_id_check(id, id_len);
    if (why) {
        ADD(s->bad_requests);
        return error_answer(conn, MHD_HTTP_BAD_REQUEST, why);
    }
    int64_t now = sl_clock_wall_ns();
    struct cmdset *set = NULL;
    char etag[VLEN + 2];
    int rc = 0;
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
        struct cmd_conf *cf = c->conf;
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

static int cmd_init(struct sl_component *c, struct sl_diag *d)
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
    return 0;
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
    return 8;
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
