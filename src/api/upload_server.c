/*
 * upload_server.c — the server of `sluice receiver` (see upload_server.h, docs/receiver.md).
 *
 * DESIGN: libmicrohttpd with a pool of POOL_THREADS polling threads, so the slow steps of
 * one upload (the footer check, fsync, the byte comparison of a re-upload) do not hold the
 * others or GET /commands back. The shared state (keys, the command-file cache, the
 * aggregator registry, the counters) is under one mutex, held only for those small steps;
 * an upload's own state (its fields, its temporary file) belongs to the thread serving its
 * connection. The "reload the keys" flag (SIGHUP) is an atomic. An upload runs
 * through MHD's PostProcessor: small fields go to capped buffers, the `file` part streams to
 * a hidden temporary file under the root (mkstemp, never held in memory), bounded by
 * max_bytes. Rejections are decided as early as the data allows: a Content-Length past the
 * bound is refused before the body is read (413), an unknown api key or a bad field that
 * arrives before the file stops anything from being written; the rest of the body is then
 * drained (MHD 0.9 cannot answer in the middle of a body) and the answer sent at its end. A
 * good file is checked with sl_parquet_footer_check_fd, fsynced and moved into place with
 * renameat2(RENAME_NOREPLACE), so a name is never overwritten: an existing file with the
 * same bytes makes the upload an idempotent success, different bytes take the next free
 * suffix (-1, -2...). The directory is fsynced after the rename.
 */
#include "api/upload_server.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "codec/json.h"
#include "codec/netevent.h"
#include "codec/parquet_footer.h"
#include "sys/fdio.h"
#include "sys/net.h"
#include "sys/thread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FORM_SLACK     ((uint64_t)1 << 20) /* multipart overhead allowed beyond max_bytes */
#define KEYS_MAX_LEN   ((size_t)1 << 20)
#define COMMANDS_MAX   ((size_t)16 << 20)
#define AGG_SEEN_EVERY (60 * 1000000000LL) /* rewrite aggregators.json for last_seen */
#define DESC_MAX       4096
#define AGGS_MAX       2000               /* aggregators remembered in aggregators.json */
#define AGGS_FILE_MAX  ((size_t)64 << 20) /* > AGGS_MAX descriptions of DESC_MAX, escaped */
#define CONN_MAX       256
#define CONN_PER_IP    32
#define POOL_THREADS   4 /* uploads checked, fsynced, compared at once */
#define SUFFIX_MAX     1000

bool sl_upload_server_type_ok(const char *type)
{
    return sl_netevent_type_of(type, strlen(type)) != SL_NETEVENT_NONE;
}

/* A file we re-read when it changes (keys, commands). */
struct watched {
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns;
    off_t size;
    bool loaded;
};

static bool changed(struct watched *w, const struct stat *st)
{
    int64_t m = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    if (w->loaded && w->dev == st->st_dev && w->ino == st->st_ino && w->mtime_ns == m &&
        w->size == st->st_size)
        return false;
    w->dev = st->st_dev;
    w->ino = st->st_ino;
    w->mtime_ns = m;
    w->size = st->st_size;
    return true;
}

struct agg {
    char id[129];
    char *desc; /* NULL: none known */
    char first_seen[40];
    char last_seen[40];
    int64_t written_ns; /* when last_seen was last written */
};

struct sl_upload_server {
    struct MHD_Daemon *mhd;
    int port;
    char *root, *keys_path, *commands_path, *upload_path;
    uint64_t max_bytes;
    /* all below: guarded_by lock (MHD's pool threads; read by sl_upload_server_stop after they
     * ended) */
    struct sl_mutex lock;
    struct sl_mutex save_lock; /* aggregators.json writes; taken after lock, never inside */
    uint64_t aggs_gen;         /* guarded_by: lock — snapshots made */
    uint64_t aggs_saved_gen;   /* guarded_by: save_lock — the newest written */
    struct watched keys_w;
    char **keys;
    size_t nkeys;
    atomic_bool reload;
    struct watched cmd_w;
    struct sl_buf cmd_body;
    char cmd_etag[24];
    struct agg *aggs;
    size_t naggs, aggs_cap;
    bool aggs_full_logged;
    struct sl_upload_server_stats st;
};

/* ---------------------------------------------------------------- keys */

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_free(keys[i]);
    sl_free(keys);
}

/* (Re)load the keys when the file changed or a reload was asked. On failure the old keys
 * stay. 0 or an error (d set). */
static int load_keys(struct sl_upload_server *r, bool force, struct sl_diag *d)
{
    struct stat st;
    if (stat(r->keys_path, &st) != 0)
        return sl_diag_set(d, SL_EIO, "keys file %s: %s", r->keys_path, strerror(errno));
    if (!changed(&r->keys_w, &st) && !force)
        return 0;
    struct sl_buf b;
    sl_buf_init(&b, KEYS_MAX_LEN);
    int rc = sl_fs_read_small(r->keys_path, KEYS_MAX_LEN, &b, &st);
    if (rc) {
        r->keys_w.loaded = false;
        sl_buf_fini(&b);
        return sl_diag_set(d, SL_EIO, "keys file %s: %s", r->keys_path, sl_strerror(rc));
    }
    char **keys = NULL;
    size_t n = 0, cap = 0;
    const char *p = b.ptr ? b.ptr : "";
    size_t left = b.len;
    while (left) {
        const char *e = memchr(p, '\n', left);
        size_t len = e ? (size_t)(e - p) : left;
        struct sl_str line = sl_str_trim((struct sl_str){p, len});
        if (line.len && line.ptr[0] != '#') {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                keys = sl_xrealloc(keys, cap * sizeof(*keys));
            }
            keys[n++] = sl_xstrndup(line.ptr, line.len);
        }
        p += len + (e ? 1 : 0);
        left -= len + (e ? 1 : 0);
    }
    sl_buf_fini(&b);
    free_keys(r->keys, r->nkeys);
    r->keys = keys;
    r->nkeys = n;
    r->keys_w.loaded = true;
    sl_info("receiver", "loaded %zu api key(s) from %s", n, r->keys_path);
    return 0;
}

/* Constant time in the key's content (not in the number of keys). */
static bool key_known(const struct sl_upload_server *r, const char *k, size_t len)
{
    bool found = false;
    for (size_t i = 0; i < r->nkeys; i++) {
        size_t kl = strlen(r->keys[i]);
        if (kl != len)
            continue;
        unsigned char diff = 0;
        for (size_t j = 0; j < len; j++)
            diff |= (unsigned char)(r->keys[i][j] ^ k[j]);
        found |= diff == 0;
    }
    return found;
}

static void refresh_keys(struct sl_upload_server *r)
{
    bool force = atomic_exchange_explicit(&r->reload, false, memory_order_acq_rel);
    struct sl_diag d;
    sl_diag_init(&d);
    if (load_keys(r, force, &d))
        sl_warn("receiver", "%s (keeping the %zu key(s) loaded before)", d.msg, r->nkeys);
}

void sl_upload_server_reload_keys(struct sl_upload_server *r)
{
    atomic_store_explicit(&r->reload, true, memory_order_release);
}

/* ---------------------------------------------------------------- files */

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static void dirname_of(const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    char *slash = strrchr(out, '/');
    if (slash && slash != out)
        *slash = 0;
}

/* Write `len` bytes to path atomically: a hidden temp beside it, fsync, rename, fsync dir. */
static int write_atomic(const char *path, const char *p, size_t len)
{
    char dir[PATH_MAX], tmp[PATH_MAX];
    dirname_of(path, dir, sizeof(dir));
    if (snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir) >= (int)sizeof(tmp))
        return SL_E2BIG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = sl_fd_write_all(fd, p, len);
    if (!rc && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    else
        fsync_dir(dir);
    return rc;
}

/* Same size and bytes? */
static bool same_content(int fd_a, const char *path_b)
{
    int fd_b = open(path_b, O_RDONLY | O_CLOEXEC);
    if (fd_b < 0)
        return false;
    struct stat sa, sb;
    bool same = fstat(fd_a, &sa) == 0 && fstat(fd_b, &sb) == 0 && sa.st_size == sb.st_size;
    char *ba = sl_xmalloc(65536), *bb = sl_xmalloc(65536);
    for (off_t off = 0; same && off < sa.st_size;) {
        ssize_t ka = pread(fd_a, ba, 65536, off);
        ssize_t kb = pread(fd_b, bb, 65536, off);
        if (ka <= 0 || ka != kb || memcmp(ba, bb, (size_t)ka) != 0)
            same = false;
        else
            off += ka;
    }
    sl_free(ba);
    sl_free(bb);
    close(fd_b);
    return same;
}

/* ---------------------------------------------------------------- aggregators.json */

static void agg_path(const struct sl_upload_server *r, char *out, size_t n)
{
    snprintf(out, n, "%s/aggregators.json", r->root);
}

static struct agg *agg_find(struct sl_upload_server *r, const char *id)
{
    for (size_t i = 0; i < r->naggs; i++)
        if (strcmp(r->aggs[i].id, id) == 0)
            return &r->aggs[i];
    return NULL;
}

static struct agg *agg_add(struct sl_upload_server *r, const char *id)
{
    if (r->naggs == r->aggs_cap) {
        r->aggs_cap = r->aggs_cap ? r->aggs_cap * 2 : 16;
        r->aggs = sl_xrealloc(r->aggs, r->aggs_cap * sizeof(*r->aggs));
    }
    struct agg *a = &r->aggs[r->naggs++];
    memset(a, 0, sizeof(*a));
    /* ids are checked (sl_aggregator_id_ok: 128 bytes at most); a bounded copy, which gcc -O3
     * does not take for a truncating snprintf of a 4096-byte path (format-truncation) */
    size_t n = strnlen(id, sizeof(a->id) - 1);
    memcpy(a->id, id, n);
    a->id[n] = '\0';
    return a;
}

static void copy_field(const struct sl_value *obj, const char *key, char *out, size_t n)
{
    const struct sl_value *v = sl_value_map_get(obj, sl_str_c(key));
    if (v && v->type == SL_V_STRING)
        sl_str_copy(out, n, (struct sl_str){v->u.s, v->len});
}

/* A registry that cannot be read is moved to <path>.bad-<unix seconds> (logged): the stored
 * files are what matters, the registry is rebuilt by the next uploads. */
static void set_aside(const char *path, const char *why)
{
    char to[PATH_MAX + 32];
    snprintf(to, sizeof(to), "%s.bad-%lld", path, (long long)(sl_clock_wall_ns() / 1000000000));
    int rc = rename(path, to) == 0 ? 0 : -errno;
    sl_error("receiver", "%s: %s; %s%s, starting with no aggregator known", path, why,
             rc ? "cannot move it aside: " : "moved to ", rc ? sl_strerror(rc) : to);
}

static int load_aggs(struct sl_upload_server *r, struct sl_diag *d)
{
    char path[PATH_MAX];
    agg_path(r, path, sizeof(path));
    struct sl_buf b;
    sl_buf_init(&b, AGGS_FILE_MAX);
    struct stat st;
    int rc = sl_fs_read_small(path, AGGS_FILE_MAX, &b, &st);
    if (rc == -ENOENT) {
        sl_buf_fini(&b);
        return 0;
    }
    if (rc == SL_E2BIG) {
        /* not worth a receiver that does not start: keep it aside, begin again */
        sl_buf_fini(&b);
        set_aside(path, "larger than the bound");
        return 0;
    }
    if (rc) {
        sl_buf_fini(&b);
        return sl_diag_set(d, SL_EIO, "%s: %s", path, sl_strerror(rc));
    }
    struct sl_arena a;
    sl_arena_init(&a, 4096, AGGS_FILE_MAX * 4);
    struct sl_value v;
    struct sl_diag jd;
    sl_diag_init(&jd);
    rc = sl_json_parse_value(&a, b.ptr ? b.ptr : "", b.len, NULL, &v, &jd);
    if (!rc && v.type != SL_V_MAP) {
        rc = SL_EPARSE;
        snprintf(jd.msg, sizeof(jd.msg), "not a JSON object");
    }
    if (rc) {
        set_aside(path, jd.msg);
        rc = 0;
    } else {
        for (uint32_t i = 0; i < v.len; i++) {
            const struct sl_kv *kv = &v.u.map[i];
            char id[129];
            sl_str_copy(id, sizeof(id), kv->key);
            if (!sl_aggregator_id_ok(kv->key.ptr, kv->key.len) || kv->val.type != SL_V_MAP ||
                agg_find(r, id) || r->naggs >= AGGS_MAX)
                continue;
            struct agg *g = agg_add(r, id);
            const struct sl_value *dv = sl_value_map_get(&kv->val, sl_str_c("description"));
            if (dv && dv->type == SL_V_STRING)
                g->desc = sl_xstrndup(dv->u.s, dv->len);
            copy_field(&kv->val, "first_seen", g->first_seen, sizeof(g->first_seen));
            copy_field(&kv->val, "last_seen", g->last_seen, sizeof(g->last_seen));
        }
        sl_info("receiver", "%zu aggregator(s) known from %s", r->naggs, path);
    }
    sl_arena_fini(&a);
    sl_buf_fini(&b);
    return rc;
}

/* The registry as JSON, into b (initialised by the caller). Under r->lock. */
static void aggs_json(const struct sl_upload_server *r, struct sl_buf *b)
{
    sl_buf_puts(b, "{");
    for (size_t i = 0; i < r->naggs; i++) {
        const struct agg *g = &r->aggs[i];
        sl_buf_appendf(b, "%s\n  \"%s\": {", i ? "," : "", g->id);
        if (g->desc) {
            sl_buf_puts(b, "\"description\": ");
            sl_json_write_string(b, g->desc, strlen(g->desc));
            sl_buf_puts(b, ", ");
        }
        sl_buf_puts(b, "\"first_seen\": ");
        sl_json_write_string(b, g->first_seen, strlen(g->first_seen));
        sl_buf_puts(b, ", \"last_seen\": ");
        sl_json_write_string(b, g->last_seen, strlen(g->last_seen));
        sl_buf_puts(b, "}");
    }
    sl_buf_puts(b, "\n}\n");
}

/* Write a snapshot made by agg_seen, without r->lock (two fsyncs of a file that can reach
 * tens of MB must not hold the other uploads back). Snapshots are numbered: an older one
 * that comes late does not overwrite a newer one already written. */
static void aggs_write(struct sl_upload_server *r, const struct sl_buf *snap, uint64_t gen)
{
    sl_mutex_lock(&r->save_lock);
    if (gen > r->aggs_saved_gen) {
        char path[PATH_MAX];
        agg_path(r, path, sizeof(path));
        int rc = write_atomic(path, snap->ptr, snap->len);
        if (rc)
            sl_error("receiver", "cannot write %s: %s", path, sl_strerror(rc));
        else
            r->aggs_saved_gen = gen;
    }
    sl_mutex_unlock(&r->save_lock);
}

/* After a stored upload: remember the aggregator (first/last seen, description). Under
 * r->lock. When the file is to be rewritten: its text in snap and a snapshot number (for
 * aggs_write, after the lock); else 0. */
static uint64_t agg_seen(struct sl_upload_server *r, const char *id, const char *desc,
                         struct sl_buf *snap)
{
    int64_t now = sl_clock_wall_ns();
    char ts[40];
    sl_clock_format_rfc3339(now, 3, ts, sizeof(ts));
    struct agg *g = agg_find(r, id);
    bool dirty = false;
    if (!g && r->naggs >= AGGS_MAX) {
        if (!r->aggs_full_logged)
            sl_warn("receiver",
                    "%d aggregators known: aggregator %s (and any other new one) is not "
                    "remembered in aggregators.json; its uploads are stored as usual",
                    AGGS_MAX, id);
        r->aggs_full_logged = true;
        return 0;
    }
    if (!g) {
        g = agg_add(r, id);
        snprintf(g->first_seen, sizeof(g->first_seen), "%s", ts);
        dirty = true;
    }
    if (desc && (!g->desc || strcmp(g->desc, desc) != 0)) {
        sl_free(g->desc);
        g->desc = sl_xstrdup(desc);
        dirty = true;
    }
    snprintf(g->last_seen, sizeof(g->last_seen), "%s", ts);
    if (now - g->written_ns >= AGG_SEEN_EVERY)
        dirty = true;
    if (!dirty)
        return 0;
    aggs_json(r, snap);
    g->written_ns = now; /* a failed write is logged; the next change writes again */
    return ++r->aggs_gen;
}

/* ---------------------------------------------------------------- HTTP answers */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              const char *body, size_t len, const char *etag)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, "Content-Type", type);
    if (etag) {
        MHD_add_response_header(resp, "ETag", etag);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
    } else {
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    char body[600];
    int n = snprintf(body, sizeof(body), "%s\n", msg);
    return answer(conn, status, "text/plain; charset=utf-8", body,
                  n < 0                      ? 0
                  : (size_t)n < sizeof(body) ? (size_t)n
                                             : sizeof(body) - 1,
                  NULL);
}

static void remote_of(struct MHD_Connection *conn, char *out, size_t n)
{
    snprintf(out, n, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    socklen_t sl = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                          : sizeof(struct sockaddr_in);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getnameinfo(ci->client_addr, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(out, n, "%.64s:%.8s", host, port);
}

/* ---------------------------------------------------------------- GET /commands */

/* Does If-None-Match name our ETag? (a list, "*", weak validators compared weakly) */
static bool etag_matches(const char *inm, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        const char *e = p;
        if (*e == '"') {
            e = strchr(e + 1, '"');
            e = e ? e + 1 : p + strlen(p);
        } else {
            while (*e && *e != ',')
                e++;
        }
        if ((size_t)(e - p) == el && memcmp(p, etag, el) == 0)
            return true;
        p = e;
    }
    return false;
}

static enum MHD_Result serve_commands(struct sl_upload_server *r, struct MHD_Connection *conn)
{
    struct stat st;
    if (!r->commands_path || stat(r->commands_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        r->st.commands_404++;
        r->cmd_w.loaded = false;
        return answer(conn, MHD_HTTP_NOT_FOUND, "application/json",
                      "{\"error\":\"no commands file\"}\n", 29, NULL);
    }
    if (changed(&r->cmd_w, &st)) {
        int rc = sl_fs_read_small(r->commands_path, COMMANDS_MAX, &r->cmd_body, &st);
        if (rc) {
            r->cmd_w.loaded = false;
            r->st.commands_404++;
            sl_warn("receiver", "commands file %s: %s", r->commands_path, sl_strerror(rc));
            return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read commands file");
        }
        snprintf(
            r->cmd_etag, sizeof(r->cmd_etag), "\"%016llx\"",
            (unsigned long long)sl_hash64(r->cmd_body.ptr ? r->cmd_body.ptr : "", r->cmd_body.len));
        r->cmd_w.loaded = true;
        sl_info("receiver", "commands file %s: %zu bytes, etag %s", r->commands_path,
                r->cmd_body.len, r->cmd_etag);
    }
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    if (inm && etag_matches(inm, r->cmd_etag)) {
        r->st.commands_304++;
        return answer(conn, MHD_HTTP_NOT_MODIFIED, NULL, "", 0, r->cmd_etag);
    }
    r->st.commands_200++;
    return answer(conn, MHD_HTTP_OK, "application/json", r->cmd_body.ptr ? r->cmd_body.ptr : "",
                  r->cmd_body.len, r->cmd_etag);
}

/* ---------------------------------------------------------------- POST uploads */

struct field {
    char buf[DESC_MAX + 1];
    size_t len, cap;
    bool seen, too_long;
};

enum { F_KEY, F_ID, F_TYPE, F_TIME, F_DESC, F__COUNT };
static const char *const field_names[F__COUNT] = {"api-key", "aggregator-id", "type", "time",
                                                  "description"};
static const size_t field_caps[F__COUNT] = {256, 128, 32, 32, DESC_MAX};

struct upload {
    struct sl_upload_server *r;
    struct MHD_PostProcessor *pp;
    char remote[80];
    struct field f[F__COUNT];
    int fd; /* temp file, -1 until the file part starts */
    char tmp[PATH_MAX];
    uint64_t file_bytes, body_bytes;
    bool file_started;
    int last_part;   /* the part the last callback was for: F_*, F__COUNT (file), -1 (other) */
    unsigned status; /* 0 until rejected */
    char reason[400];
};

/* Mark the upload refused with `status` and a one-line reason (the first reason wins);
 * removes what was written. Returns 0 so validators can `return reject(...)`. */
static int reject(struct upload *u, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reject(struct upload *u, unsigned status, const char *fmt, ...)
{
    if (u->status)
        return 0;
    u->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
    va_end(ap);
    if (u->fd >= 0) { /* nothing of a rejected upload stays on disk */
        close(u->fd);
        u->fd = -1;
        if (u->tmp[0])
            unlink(u->tmp);
    }
    return 0;
}

static void upload_free(struct upload *u)
{
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0) {
        close(u->fd);
        if (u->tmp[0])
            unlink(u->tmp);
    }
    sl_free(u);
}

static const char *fval(struct upload *u, int i)
{
    return u->f[i].seen ? u->f[i].buf : NULL;
}

/* `time` as the file name uses it: 1-15 ASCII digits (no sign, no space); the name is built
 * from the number, so "007" and "7" are one time */
static bool time_text_ok(const char *t)
{
    size_t n = strlen(t);
    if (n < 1 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return false;
    return true;
}

/* Checks that can run as soon as the fields are there (before the file, in the contract's
 * order; all of them again at the end). `final`: missing fields are errors too. */
static int validate_fields(struct upload *u, bool final)
{
    struct sl_upload_server *r = u->r;
    for (int i = 0; i < F__COUNT; i++) {
        if (u->f[i].too_long)
            return reject(u, i == F_KEY ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_BAD_REQUEST,
                          "field %s longer than %zu bytes", field_names[i], field_caps[i]);
        if (u->f[i].seen && strlen(u->f[i].buf) != u->f[i].len)
            return reject(u, i == F_KEY ? MHD_HTTP_UNAUTHORIZED : MHD_HTTP_BAD_REQUEST,
                          "field %s contains a NUL byte", field_names[i]);
    }
    const char *key = fval(u, F_KEY);
    if (key || final) {
        if (!key || !*key)
            return reject(u, MHD_HTTP_UNAUTHORIZED, "missing api-key");
        sl_mutex_lock(&r->lock);
        refresh_keys(r);
        bool known = key_known(r, key, u->f[F_KEY].len);
        sl_mutex_unlock(&r->lock);
        if (!known)
            return reject(u, MHD_HTTP_UNAUTHORIZED, "unknown api key");
    }
    const char *id = fval(u, F_ID);
    if (id && !sl_aggregator_id_ok(id, u->f[F_ID].len))
        return reject(u, MHD_HTTP_BAD_REQUEST,
                      "bad aggregator-id: 1-128 characters of [A-Za-z0-9._-]");
    if (!id && final)
        return reject(u, MHD_HTTP_BAD_REQUEST, "missing field aggregator-id");
    const char *type = fval(u, F_TYPE);
    if (type && !sl_upload_server_type_ok(type))
        return reject(u, MHD_HTTP_BAD_REQUEST,
                      "bad type \"%.32s\": one of GENERAL, FTP, HTTP, LDAP, SMB, SMTP, TDS, "
                      "DCE_RPC, TELNET, SYSTEM_STATS",
                      type);
    if (!type && final)
        return reject(u, MHD_HTTP_BAD_REQUEST, "missing field type");
    const char *tm = fval(u, F_TIME);
    int64_t ms;
    if (tm && (!time_text_ok(tm) || sl_str_to_i64(sl_str_c(tm), &ms) || ms > 253402300799999LL))
        return reject(u, MHD_HTTP_BAD_REQUEST,
                      "bad time \"%.32s\": Unix milliseconds (an integer from 0)", tm);
    if (!tm && final)
        return reject(u, MHD_HTTP_BAD_REQUEST, "missing field time");
    return 0;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct upload *u = cls;
    struct sl_upload_server *r = u->r;
    if (u->status || !key)
        return MHD_YES;
    if (strcmp(key, "file") == 0) {
        if (off == 0 && !u->file_started) {
            u->file_started = true;
            /* the key comes first (the contract's order, the JVM aggregator's and ours): no
             * byte of a body goes to disk before its sender was recognised */
            if (!fval(u, F_KEY)) {
                reject(u, MHD_HTTP_UNAUTHORIZED, "missing api-key before the file part");
                return MHD_YES;
            }
            validate_fields(u, false); /* an unknown key stops here: nothing is written */
            if (u->status)
                return MHD_YES;
            snprintf(u->tmp, sizeof(u->tmp), "%s/.upload-XXXXXX", r->root);
            u->fd = mkostemp(u->tmp, O_CLOEXEC);
            if (u->fd < 0) {
                sl_error("receiver", "cannot create a temporary file in %s: %s", r->root,
                         strerror(errno));
                reject(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file");
                return MHD_YES;
            }
        } else if (off == 0 && ((size && u->file_bytes) || u->last_part != F__COUNT)) {
            reject(u, MHD_HTTP_BAD_REQUEST, "more than one file part");
            return MHD_YES;
        }
        u->last_part = F__COUNT;
        if (!size)
            return MHD_YES;
        if (u->file_bytes + size > r->max_bytes) {
            reject(u, MHD_HTTP_CONTENT_TOO_LARGE, "file larger than %llu bytes",
                   (unsigned long long)r->max_bytes);
            return MHD_YES;
        }
        int rc = sl_fd_write_all(u->fd, data, size);
        if (rc) {
            sl_error("receiver", "writing %s: %s", u->tmp, sl_strerror(rc));
            reject(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file");
            return MHD_YES;
        }
        u->file_bytes += size;
        return MHD_YES;
    }
    for (int i = 0; i < F__COUNT; i++) {
        if (strcmp(key, field_names[i]) != 0)
            continue;
        struct field *f = &u->f[i];
        /* a second part of the same name: after data, or after another part (MHD may call
         * twice at offset 0 for one part, the first time without data) */
        if (off == 0 && f->seen && (f->len || u->last_part != i)) {
            reject(u, MHD_HTTP_BAD_REQUEST, "field %s given twice", key);
            return MHD_YES;
        }
        f->seen = true;
        u->last_part = i;
        if (f->len + size > field_caps[i]) {
            f->too_long = true;
            return MHD_YES;
        }
        memcpy(f->buf + f->len, data, size);
        f->len += size;
        f->buf[f->len] = 0;
        return MHD_YES;
    }
    u->last_part = -1;
    return MHD_YES; /* other fields are ignored */
}

static void count_reject(struct sl_upload_server *r, unsigned status)
{
    sl_mutex_lock(&r->lock);
    if (status == MHD_HTTP_BAD_REQUEST)
        r->st.rejected_400++;
    else if (status == MHD_HTTP_UNAUTHORIZED)
        r->st.rejected_401++;
    else if (status == MHD_HTTP_CONTENT_TOO_LARGE)
        r->st.rejected_413++;
    else
        r->st.rejected_other++;
    sl_mutex_unlock(&r->lock);
}

static enum MHD_Result finish_reject(struct upload *u, struct MHD_Connection *conn)
{
    struct sl_upload_server *r = u->r;
    count_reject(r, u->status);
    const char *id = fval(u, F_ID);
    sl_warn("receiver", "rejected status=%u reason=\"%s\" remote=%s aggregator=%s type=%s",
            u->status, u->reason, u->remote,
            id && sl_aggregator_id_ok(id, u->f[F_ID].len) ? id : "-",
            fval(u, F_TYPE) && sl_upload_server_type_ok(fval(u, F_TYPE)) ? fval(u, F_TYPE) : "-");
    return answer_text(conn, u->status, u->reason);
}

/* The end of the body: validate everything, check the Parquet footer, move into place. */
static enum MHD_Result finish_upload(struct upload *u, struct MHD_Connection *conn)
{
    struct sl_upload_server *r = u->r;
    if (u->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(u->pp);
        u->pp = NULL;
        if (ok != MHD_YES)
            reject(u, MHD_HTTP_BAD_REQUEST, "incomplete multipart body");
    }
    if (!u->status)
        validate_fields(u, true);
    if (!u->status && u->fd < 0)
        reject(u, MHD_HTTP_BAD_REQUEST, "missing file part");
    struct sl_parquet_footer_info info;
    if (!u->status) {
        struct sl_diag d;
        sl_diag_init(&d);
        if (sl_parquet_footer_check_fd(u->fd, &info, &d))
            reject(u, MHD_HTTP_BAD_REQUEST, "bad Parquet file: %s", d.msg);
    }
    if (u->status)
        return finish_reject(u, conn);

    const char *id = fval(u, F_ID), *type = fval(u, F_TYPE);
    int64_t ms = 0;
    sl_str_to_i64(sl_str_c(fval(u, F_TIME)), &ms);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char rel_dir[200], dir[PATH_MAX], rel[400], path[PATH_MAX];
    /* type, id and time were validated (short, no '/'); the root is the operator's: a name
     * that does not fit is an error, never a truncated path */
    int rc = 0;
    if (snprintf(rel_dir, sizeof(rel_dir), "%s/%04d-%02d-%02d", type, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday) >= (int)sizeof(rel_dir) ||
        snprintf(dir, sizeof(dir), "%s/%s", r->root, rel_dir) >= (int)sizeof(dir) ||
        snprintf(path, sizeof(path), "%s/x", dir) >= (int)sizeof(path))
        rc = SL_E2BIG;
    if (!rc)
        rc = sl_fs_mkdir_parents(path);
    if (!rc && fsync(u->fd) != 0)
        rc = -errno;
    bool duplicate = false;
    for (int k = 0; !rc && k <= SUFFIX_MAX; k++) {
        int n =
            k ? snprintf(rel, sizeof(rel), "%s/%s-%lld-%d.parquet", rel_dir, id, (long long)ms, k)
              : snprintf(rel, sizeof(rel), "%s/%s-%lld.parquet", rel_dir, id, (long long)ms);
        if (n >= (int)sizeof(rel) ||
            snprintf(path, sizeof(path), "%s/%s", r->root, rel) >= (int)sizeof(path)) {
            rc = SL_E2BIG;
            break;
        }
        int mv = sl_fs_rename_noreplace(u->tmp, path);
        if (mv == 0) {
            u->tmp[0] = 0; /* the name is free again: another upload's mkstemp may take it */
            break;
        }
        if (mv != -EEXIST) {
            rc = mv;
            break;
        }
        if (same_content(u->fd, path)) {
            duplicate = true;
            unlink(u->tmp);
            u->tmp[0] = 0;
            break;
        }
        if (k == SUFFIX_MAX)
            rc = SL_ELIMIT;
    }
    if (rc) {
        sl_error("receiver", "cannot store %s: %s", path, sl_strerror(rc));
        reject(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file");
        return finish_reject(u, conn);
    }
    /* the answer says "stored": the name must survive a power loss (the sender deletes its
     * copy on 2xx). The file's directory, and the entries of {type}/ and {date}/ (created by
     * this upload or by a concurrent one that may not have synced them yet); a duplicate
     * too, since the upload that stored it may still be syncing. On failure the file stays
     * (a retry finds it, as a duplicate, and syncs again) and the answer is 500. */
    char type_dir[PATH_MAX];
    dirname_of(dir, type_dir, sizeof(type_dir)); /* {root}/{type}/{date} -> {root}/{type} */
    const char *why = dir;
    if ((rc = fsync_dir(dir)) == 0 && (rc = fsync_dir((why = type_dir))) == 0)
        rc = fsync_dir((why = r->root));
    if (rc) {
        sl_error("receiver", "cannot fsync %s after storing %s: %s", why, rel, sl_strerror(rc));
        reject(u, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the file");
        return finish_reject(u, conn);
    }
    close(u->fd);
    u->fd = -1;
    sl_mutex_lock(&r->lock);
    if (duplicate) {
        r->st.duplicates++;
    } else {
        r->st.stored++;
        r->st.bytes += u->file_bytes;
        r->st.rows += (uint64_t)info.num_rows;
    }
    struct sl_buf snap;
    sl_buf_init(&snap, 0);
    uint64_t gen = agg_seen(r, id, fval(u, F_DESC), &snap);
    sl_mutex_unlock(&r->lock);
    if (gen)
        aggs_write(r, &snap, gen);
    sl_buf_fini(&snap);
    sl_info("receiver",
            "%s path=%s aggregator=%s type=%s bytes=%llu rows=%lld description=%s remote=%s",
            duplicate ? "duplicate (identical bytes already stored)" : "stored", rel, id, type,
            (unsigned long long)u->file_bytes, (long long)info.num_rows,
            fval(u, F_DESC) ? "yes" : "no", u->remote);
    char body[600];
    int n = snprintf(body, sizeof(body), "{\"stored\":\"%s\",\"rows\":%lld%s}\n", rel,
                     (long long)info.num_rows, duplicate ? ",\"duplicate\":true" : "");
    return answer(conn, MHD_HTTP_OK, "application/json", body, (size_t)n, NULL);
}

static bool is_upload_path(const struct sl_upload_server *r, const char *url)
{
    if (r->upload_path) {
        size_t n = strlen(r->upload_path);
        return strncmp(url, r->upload_path, n) == 0 &&
               (url[n] == 0 || (url[n] == '/' && url[n + 1] == 0));
    }
    return strcmp(url, "/commands") != 0 && strcmp(url, "/health") != 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_len, void **con_cls)
{
    struct sl_upload_server *r = cls;
    struct upload *u = *con_cls;
    if (u) { /* an upload in progress */
        if (*upload_len) {
            size_t n = *upload_len;
            *upload_len = 0;
            u->body_bytes += n;
            if (u->body_bytes > r->max_bytes + FORM_SLACK) {
                /* chunked, past the bound: MHD 0.9 cannot answer mid-body; close */
                reject(u, MHD_HTTP_CONTENT_TOO_LARGE, "body larger than %llu bytes",
                       (unsigned long long)(r->max_bytes + FORM_SLACK));
                count_reject(r, u->status);
                sl_warn("receiver",
                        "rejected status=413 reason=\"%s\" remote=%s (connection "
                        "closed)",
                        u->reason, u->remote);
                return MHD_NO;
            }
            if (!u->status && MHD_post_process(u->pp, upload_data, n) != MHD_YES)
                reject(u, MHD_HTTP_BAD_REQUEST, "malformed multipart body");
            return MHD_YES;
        }
        return finish_upload(u, conn);
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/health") == 0 || strcmp(url, "/commands") == 0) {
        if (!get)
            return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
        if (strcmp(url, "/health") == 0)
            return answer(conn, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}\n", 16, NULL);
        sl_mutex_lock(&r->lock);
        enum MHD_Result ret = serve_commands(r, conn);
        sl_mutex_unlock(&r->lock);
        return ret;
    }
    if (!is_upload_path(r, url))
        return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, "POST") != 0)
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: POST an upload");
    char remote[80];
    remote_of(conn, remote, sizeof(remote));
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    int64_t clen;
    if (cl && !sl_str_to_i64(sl_str_c(cl), &clen) && clen >= 0 &&
        (uint64_t)clen > r->max_bytes + FORM_SLACK) {
        count_reject(r, MHD_HTTP_CONTENT_TOO_LARGE);
        sl_warn("receiver", "rejected status=413 reason=\"body of %lld bytes\" remote=%s",
                (long long)clen, remote);
        char msg[120];
        snprintf(msg, sizeof(msg), "body of %lld bytes is larger than the bound (%llu)",
                 (long long)clen, (unsigned long long)r->max_bytes);
        return answer_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    u = sl_xcalloc(1, sizeof(*u));
    u->r = r;
    u->fd = -1;
    u->last_part = -1;
    snprintf(u->remote, sizeof(u->remote), "%s", remote);
    u->pp = MHD_create_post_processor(conn, 64 * 1024, on_part, u);
    if (!u->pp) {
        /* not multipart/form-data (or urlencoded): answer now, the body is not read */
        count_reject(r, MHD_HTTP_BAD_REQUEST);
        sl_warn("receiver", "rejected status=400 reason=\"not multipart/form-data\" remote=%s",
                remote);
        sl_free(u);
        return answer_text(conn, MHD_HTTP_BAD_REQUEST, "expected multipart/form-data");
    }
    *con_cls = u;
    return MHD_YES;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct upload *u = *con_cls;
    if (u && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !u->status) {
        /* the client went away mid-upload (or a timeout) */
        count_reject(u->r, 0);
        sl_warn("receiver", "upload aborted remote=%s bytes=%llu (connection closed)", u->remote,
                (unsigned long long)u->body_bytes);
    }
    upload_free(u);
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- lifecycle */

/* Temporary files a crash left in the root (uploads, aggregators.json rewrites). */
static void sweep_temps(const char *root)
{
    DIR *dir = opendir(root);
    if (!dir)
        return;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strncmp(e->d_name, ".upload-", 8) != 0 && strncmp(e->d_name, ".tmp-", 5) != 0)
            continue;
        if (unlinkat(dirfd(dir), e->d_name, 0) == 0)
            n++;
    }
    closedir(dir);
    if (n)
        sl_warn("receiver", "removed %u temporary file(s) left in %s", n, root);
}

static void free_receiver(struct sl_upload_server *r)
{
    free_keys(r->keys, r->nkeys);
    for (size_t i = 0; i < r->naggs; i++)
        sl_free(r->aggs[i].desc);
    sl_free(r->aggs);
    sl_mutex_fini(&r->lock);
    sl_mutex_fini(&r->save_lock);
    sl_buf_fini(&r->cmd_body);
    sl_free(r->root);
    sl_free(r->keys_path);
    sl_free(r->commands_path);
    sl_free(r->upload_path);
    sl_free(r);
}

struct sl_upload_server *sl_upload_server_start(const struct sl_upload_server_opts *o,
                                                struct sl_diag *d)
{
    if (!o->root || !*o->root || strlen(o->root) > 2048) {
        sl_diag_set(d, SL_ECONFIG, "--root: a directory path of 1 to 2048 bytes");
        return NULL;
    }
    struct sl_upload_server *r = sl_xcalloc(1, sizeof(*r));
    r->root = sl_xstrdup(o->root);
    sl_mutex_init(&r->lock);
    sl_mutex_init(&r->save_lock);
    r->keys_path = sl_xstrdup(o->keys_path);
    r->commands_path = o->commands_path ? sl_xstrdup(o->commands_path) : NULL;
    r->upload_path = o->upload_path ? sl_xstrdup(o->upload_path) : NULL;
    r->max_bytes = o->max_bytes ? o->max_bytes : (uint64_t)1 << 30;
    atomic_init(&r->reload, false);
    sl_buf_init(&r->cmd_body, COMMANDS_MAX);
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/x", r->root);
    int rc = sl_fs_mkdir_parents(probe);
    struct stat st;
    if (rc || stat(r->root, &st) != 0 || !S_ISDIR(st.st_mode) || access(r->root, W_OK) != 0) {
        sl_diag_set(d, SL_ECONFIG, "--root %s: not a writable directory%s%s", r->root,
                    rc ? ": " : "", rc ? sl_strerror(rc) : "");
        goto fail;
    }
    if (load_keys(r, true, d))
        goto fail;
    if (r->nkeys == 0)
        sl_warn("receiver", "no api key in %s: every upload will be refused (401)", r->keys_path);
    if (load_aggs(r, d))
        goto fail;
    sweep_temps(r->root);
    char host[256];
    uint16_t port;
    if (sl_net_split_hostport(o->listen, host, sizeof(host), &port)) {
        sl_diag_set(d, SL_ECONFIG, "--listen: invalid address \"%s\" (want HOST:PORT)", o->listen);
        goto fail;
    }
    int fd = sl_net_listen_tcp(host, port, 128);
    if (fd < 0) {
        sl_diag_set(d, SL_ECONFIG, "--listen: cannot listen on %s: %s", o->listen, sl_strerror(fd));
        goto fail;
    }
    r->port = sl_net_local_port(fd);
    r->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handle, r,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        /* a peer that holds connections open (slowloris) takes at most CONN_PER_IP of them */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)CONN_PER_IP, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POOL_THREADS, MHD_OPTION_NOTIFY_COMPLETED, completed,
        r, MHD_OPTION_END);
    if (!r->mhd) {
        close(fd);
        sl_diag_set(d, SL_ESYS, "cannot start the HTTP server on %s", o->listen);
        goto fail;
    }
    return r;
fail:
    free_receiver(r);
    return NULL;
}

int sl_upload_server_port(const struct sl_upload_server *r)
{
    return r->port;
}

void sl_upload_server_stop(struct sl_upload_server *r, struct sl_upload_server_stats *st)
{
    if (!r)
        return;
    MHD_stop_daemon(r->mhd); /* joins the thread: the state below is ours now */
    if (st)
        *st = r->st;
    free_receiver(r);
}
