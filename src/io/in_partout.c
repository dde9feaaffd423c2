/*
 * in_partout.c — the `partout` source: the Partout master. Agents POST hierarchical counts
 * (agent → module → object → message) and are told, in every answer, how often to post and at
 * which aggregation level (docs/partout.md; the policy is state/partout_policy.h, the body
 * codec/partout_body.h).
 *
 *   POST /events  the seed's body   200 {"aggregate_period_secs":P,"aggregate_period_splay":S,
 *                                        "aggregate_level":L,"notify_alive_period_secs":A,
 *                                        "accepted":leaves,"count":sum}
 *                                   400 {"error":"$.agent...: expected ...", + the settings}
 *   POST /event   legacy {hostname, agent_uuid, module, object, msg}    200 text "received"
 *   401 no api key / an unknown one;  403 a key not given to this agent, or a client
 *   certificate that does not verify;  413 body past max_body;  429 pipeline full (the counts
 *   are not taken and not counted in Em: the agent keeps them for its next post);  503 stopping;
 *   405 other methods;  404 other paths.
 *
 * Every accepted aggregate becomes one event per non-zero leaf count, with the fields
 *   agent, hostname, module, object, msg, level (the message's), detail (1..4: the depth of the
 *   leaf), count, period (the body's period_secs, else the period the agent was last told)
 * so the sum of `count` over the events emitted equals the sum inside the accepted aggregates.
 *
 * DESIGN: in_http's shape (libmicrohttpd, internal epoll thread + a small pool, bodies
 * collected capped in an sl_buf, sl_source_try_emit so a full pipeline is a 429, never a
 * wait). Nothing is shared with in_http in code: its body handling (NDJSON lines through the
 * line reader) and its answers have nothing in common with this one beyond a dozen lines of
 * MHD boilerplate. A body becomes one batch (up to max_leaves events, 10,000 by default), so
 * an aggregate is accepted or refused whole. The policy and the keys sit behind one mutex:
 * a request holds it for a hash lookup and a few additions.
 *
 * Auth: `keys` names a file of "<agent uuid> <api key>" lines ("*" for any agent; '#'
 * comments), re-read when it changes. The key comes in `X-Api-Key` or `Authorization: Bearer`.
 * TLS (tls_cert + tls_key) is GnuTLS inside libmicrohttpd; with tls_ca, client certificates
 * are asked for and checked against it (tls_client_cert: optional | required). The check calls
 * gnutls_certificate_verify_peers2, looked up at run time in the GnuTLS that libmicrohttpd
 * already loaded, so the build needs no link of its own to GnuTLS.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "codec/partout_body.h"
#include "core/component.h"
#include "state/partout_policy.h"
#include "state/partout_store.h"
#include "sys/net.h"
#include "sys/thread.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYS_MAX_LEN ((size_t)4 << 20)
#define PEM_MAX_LEN  ((size_t)1 << 20)

struct partout_conf {
    char *listen;
    char *path;        /* /events */
    char *legacy_path; /* /event */
    char *keys;
    char *tls_cert, *tls_key, *tls_ca;
    int tls_client_cert; /* 0 optional, 1 required */
    uint64_t max_body;
    int64_t max_leaves, max_key_len, max_depth;
    double divisor;
    int64_t period_min_ns, period_max_ns;
    double t_obj, t_mod, t_uuid, t_max;
    int64_t window_ns, bucket_ns;
    double splay;
    int64_t alive_ns;
    bool per_agent;
    int64_t max_agents;
    int64_t threads;
    char *store; /* partout_store.h: every accepted aggregate */
};

struct key {
    char *uuid; /* NULL: any agent */
    char *key;
};

enum {
    ST_REQUESTS,
    ST_AGGREGATES,
    ST_LEAVES,
    ST_COUNTS,
    ST_BAD,
    ST_UNAUTH,
    ST_FORBIDDEN,
    ST_TOO_LARGE,
    ST_FULL,
    ST_LEGACY,
    ST__COUNT
};

struct partout_state {
    struct MHD_Daemon *mhd;
    int port;
    struct sl_partout_conf pc;
    struct sl_partout_limits lim;
    char *pem_cert, *pem_key, *pem_ca; /* kept alive while the daemon runs */
    int (*verify_peers)(gnutls_session_t, unsigned *);
    sl_sym f_agent, f_hostname, f_module, f_object, f_msg, f_level, f_detail, f_count, f_period;
    atomic_uint_fast64_t st[ST__COUNT];
    struct sl_mutex lock;
    struct sl_partout_policy *policy; /* guarded_by: lock */
    struct key *keys;                 /* guarded_by: lock */
    size_t nkeys;                     /* guarded_by: lock */
    struct stat keys_st;              /* guarded_by: lock: the file as last loaded */
    struct sl_partout_store *store;   /* NULL: no `store:` */
};

struct request {
    struct sl_buf body;
    bool too_large;
};

static void bump(struct partout_state *s, int i)
{
    atomic_fetch_add_explicit(&s->st[i], 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- files and keys */

static int read_file(const char *path, size_t max, struct sl_buf *out, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (fstat(fd, st) != 0) {
        rc = -errno;
        goto done;
    }
    if ((uint64_t)st->st_size > max) {
        rc = SL_E2BIG;
        goto done;
    }
    char tmp[65536];
    for (;;) {
        ssize_t k = read(fd, tmp, sizeof(tmp));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if (k == 0)
            break;
        if ((rc = sl_buf_append(out, tmp, (size_t)k)) != 0)
            break;
    }
    if (!rc && sl_buf_putc(out, '\0') == 0)
        out->len--;
done:
    close(fd);
    return rc;
}

static void free_keys(struct key *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sl_free(k[i].uuid);
        sl_free(k[i].key);
    }
    sl_free(k);
}

/* Parse "<uuid|*> <key>" lines. 0, or SL_EPARSE with d naming the line. */
static int parse_keys(const char *path, const char *p, size_t len, struct key **out, size_t *nout,
                      struct sl_diag *d)
{
    struct key *keys = NULL;
    size_t n = 0, cap = 0;
    uint32_t lineno = 0;
    while (len) {
        const char *e = memchr(p, '\n', len);
        size_t ll = e ? (size_t)(e - p) : len;
        lineno++;
        struct sl_str line = sl_str_trim(sl_str_make(p, ll));
        p += ll + (e ? 1 : 0);
        len -= ll + (e ? 1 : 0);
        if (!line.len || line.ptr[0] == '#')
            continue;
        size_t i = 0;
        while (i < line.len && line.ptr[i] != ' ' && line.ptr[i] != '\t')
            i++;
        struct sl_str uuid = sl_str_make(line.ptr, i);
        struct sl_str key = sl_str_trim(sl_str_make(line.ptr + i, line.len - i));
        if (!key.len || memchr(key.ptr, ' ', key.len) || memchr(key.ptr, '\t', key.len)) {
            free_keys(keys, n);
            sl_diag_set(d, SL_EPARSE, "%s:%u: expected \"<agent uuid or *> <api key>\"", path,
                        lineno);
            return SL_EPARSE;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            keys = sl_xrealloc(keys, cap * sizeof(*keys));
        }
        keys[n].uuid = sl_str_eq_c(uuid, "*") ? NULL : sl_xstrndup(uuid.ptr, uuid.len);
        keys[n].key = sl_xstrndup(key.ptr, key.len);
        n++;
    }
    *out = keys;
    *nout = n;
    return 0;
}

/* (Re)load the keys file when it changed. Called with the lock held (or before the daemon
 * starts). On failure the old keys stay. */
static int load_keys(struct sl_component *c, bool force, struct sl_diag *d)
{
    struct partout_conf *cf = c->conf;
    struct partout_state *s = c->state;
    struct stat st;
    if (stat(cf->keys, &st) != 0)
        return sl_diag_set(d, SL_EIO, "keys file %s: %s", cf->keys, strerror(errno));
    if (!force && st.st_ino == s->keys_st.st_ino && st.st_dev == s->keys_st.st_dev &&
        st.st_size == s->keys_st.st_size && st.st_mtim.tv_sec == s->keys_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->keys_st.st_mtim.tv_nsec)
        return 0;
    struct sl_buf b;
    sl_buf_init(&b, KEYS_MAX_LEN);
    int rc = read_file(cf->keys, KEYS_MAX_LEN, &b, &st);
    if (rc) {
        sl_buf_fini(&b);
        return sl_diag_set(d, rc, "keys file %s: %s", cf->keys, sl_strerror(rc));
    }
    struct key *keys;
    size_t n;
    rc = parse_keys(cf->keys, b.ptr ? b.ptr : "", b.len, &keys, &n, d);
    sl_buf_fini(&b);
    if (rc)
        return rc;
    free_keys(s->keys, s->nkeys);
    s->keys = keys;
    s->nkeys = n;
    s->keys_st = st;
    sl_info(c->name, "loaded %zu api key(s) from %s", n, cf->keys);
    return 0;
}

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < alen; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

enum auth { AUTH_OK, AUTH_MISSING, AUTH_UNKNOWN, AUTH_FORBIDDEN };

/* Is `key` known (uuid NULL), or given to agent `uuid` (or to any agent)? Lock held. */
static enum auth check_key(struct partout_state *s, const char *key, const struct sl_str *uuid)
{
    if (!key || !*key)
        return AUTH_MISSING;
    size_t kl = strlen(key);
    bool known = false, allowed = false;
    for (size_t i = 0; i < s->nkeys; i++) {
        if (!ct_equal(s->keys[i].key, strlen(s->keys[i].key), key, kl))
            continue;
        known = true;
        if (!s->keys[i].uuid ||
            (uuid && ct_equal(s->keys[i].uuid, strlen(s->keys[i].uuid), uuid->ptr, uuid->len)))
            allowed = true;
    }
    if (!known)
        return AUTH_UNKNOWN;
    return !uuid || allowed ? AUTH_OK : AUTH_FORBIDDEN;
}

static const char *api_key_of(struct MHD_Connection *conn)
{
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Key");
    if (k)
        return k;
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7;
    return NULL;
}

/* With tls_ca: a client certificate, when one is presented (or always: required), must verify.
 * True when the connection may go on. */
static bool client_cert_ok(struct sl_component *c, struct MHD_Connection *conn)
{
    struct partout_conf *cf = c->conf;
    struct partout_state *s = c->state;
    if (!cf->tls_ca || !s->verify_peers)
        return true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
    unsigned status = 0;
    int rc = s->verify_peers(sess, &status);
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND)
        return cf->tls_client_cert == 0;
    return rc == 0 && status == 0;
}

/* ---------------------------------------------------------------- answers */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, struct sl_buf *b,
                               const char *type)
{
    size_t len = 0;
    char *p = sl_buf_steal(b, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", type);
    if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "1");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result error_answer(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b, 8192);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, "}\n");
    return respond(conn, status, &b, "application/json");
}

static void put_settings(struct sl_buf *b, const struct sl_partout_settings *st)
{
    sl_buf_appendf(b,
                   "\"aggregate_period_secs\":%lld,\"aggregate_period_splay\":%g,"
                   "\"aggregate_level\":%d,\"notify_alive_period_secs\":%lld",
                   (long long)st->period_secs, st->splay, st->level, (long long)st->alive_secs);
}

/* An error that still carries settings (400, 429): the master's own (level(Em), Ps(Em)), so an
 * agent whose post was refused still learns how loud the fleet is. */
static enum MHD_Result settings_error(struct sl_component *c, struct MHD_Connection *conn,
                                      unsigned status, const char *msg)
{
    struct partout_state *s = c->state;
    struct sl_partout_settings st;
    sl_mutex_lock(&s->lock);
    sl_partout_policy_settings(s->policy, NULL, 0, sl_clock_mono_ns(), &st);
    sl_mutex_unlock(&s->lock);
    st.level = st.master_level;
    st.period_secs = st.master_period_secs;
    struct sl_buf b;
    sl_buf_init(&b, 8192);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_putc(&b, ',');
    put_settings(&b, &st);
    sl_buf_puts(&b, "}\n");
    return respond(conn, status, &b, "application/json");
}

/* ---------------------------------------------------------------- requests */

static void dead_letter(struct sl_component *c, const char *msg, const struct sl_buf *body,
                        const char *where)
{
    struct sl_batch *e = sl_batch_new();
    sl_error_event(e, c->name, msg, body->ptr, body->len, where, 0, -1);
    sl_source_emit_errors(c, e);
}

/* Turn the leaves into events of batch b (whose arena holds what they point to). */
static int build_events(struct partout_state *s, struct sl_batch *b,
                        const struct sl_partout_body *pb, int64_t period)
{
    int64_t now = sl_clock_wall_ns();
    for (uint32_t i = 0; i < pb->nleaves; i++) {
        const struct sl_partout_leaf *l = &pb->leaves[i];
        struct sl_event *ev = sl_batch_push(b);
        if (!ev)
            return SL_ENOMEM;
        ev->ts_ns = now;
        int rc = 0;
        if (pb->uuid.len)
            rc |= sl_event_set(b, ev, s->f_agent, sl_value_str(pb->uuid.ptr, pb->uuid.len));
        if (pb->hostname.ptr)
            rc |= sl_event_set(b, ev, s->f_hostname,
                               sl_value_str(pb->hostname.ptr, pb->hostname.len));
        if (l->module.ptr)
            rc |= sl_event_set(b, ev, s->f_module, sl_value_str(l->module.ptr, l->module.len));
        if (l->object.ptr)
            rc |= sl_event_set(b, ev, s->f_object, sl_value_str(l->object.ptr, l->object.len));
        if (l->msg.ptr)
            rc |= sl_event_set(b, ev, s->f_msg, sl_value_str(l->msg.ptr, l->msg.len));
        if (l->level.ptr)
            rc |= sl_event_set(b, ev, s->f_level, sl_value_str(l->level.ptr, l->level.len));
        rc |= sl_event_set(b, ev, s->f_detail, sl_value_int(l->depth));
        rc |= sl_event_set(b, ev, s->f_count, sl_value_int((int64_t)l->count));
        rc |= sl_event_set(b, ev, s->f_period, sl_value_int(period));
        if (rc)
            return SL_ENOMEM;
    }
    return 0;
}

static enum MHD_Result answer_accepted(struct sl_component *c, struct MHD_Connection *conn,
                                       struct sl_batch *b, uint32_t nev, uint64_t total,
                                       const char *uuid, size_t uuid_len, bool legacy,
                                       const struct sl_partout_body *pb, int64_t period);

static enum MHD_Result handle_post(struct sl_component *c, struct MHD_Connection *conn,
                                   struct request *rq, bool legacy)
{
    struct partout_conf *cf = c->conf;
    struct partout_state *s = c->state;
    const char *where = legacy ? "partout POST /event" : "partout POST /events";
    const char *key = api_key_of(conn);
    if (cf->keys) {
        sl_mutex_lock(&s->lock);
        struct sl_diag kd;
        sl_diag_init(&kd);
        if (load_keys(c, false, &kd))
            sl_warn(c->name, "%s (keeping the %zu key(s) loaded before)", kd.msg, s->nkeys);
        enum auth a = check_key(s, key, NULL);
        sl_mutex_unlock(&s->lock);
        if (a != AUTH_OK) {
            bump(s, ST_UNAUTH);
            return error_answer(conn, MHD_HTTP_UNAUTHORIZED,
                                a == AUTH_MISSING ? "missing api key (X-Api-Key)"
                                                  : "unknown api key");
        }
    }
    struct sl_batch *b = sl_batch_new();
    char *copy = sl_batch_copy(b, rq->body.ptr ? rq->body.ptr : "", rq->body.len);
    struct sl_partout_body pb;
    struct sl_diag d;
    sl_diag_init(&d);
    int rc;
    if (!copy)
        rc = sl_diag_set(&d, SL_ENOMEM, "$: out of memory");
    else if (legacy)
        rc = sl_partout_legacy_parse(&b->arena, copy, rq->body.len, &s->lim, &pb, &d);
    else
        rc = sl_partout_body_parse(&b->arena, copy, rq->body.len, &s->lim, &pb, &d);
    if (rc) {
        sl_batch_unref(b);
        bump(s, ST_BAD);
        dead_letter(c, d.msg, &rq->body, where);
        return settings_error(c, conn, MHD_HTTP_BAD_REQUEST, d.msg);
    }
    if (cf->keys) {
        sl_mutex_lock(&s->lock);
        enum auth a = AUTH_FORBIDDEN;
        if (pb.uuid.len) {
            a = check_key(s, key, &pb.uuid);
        } else { /* an anonymous legacy event needs a key given to any agent ("*") */
            for (size_t i = 0; i < s->nkeys; i++)
                if (!s->keys[i].uuid &&
                    ct_equal(s->keys[i].key, strlen(s->keys[i].key), key, strlen(key)))
                    a = AUTH_OK;
        }
        sl_mutex_unlock(&s->lock);
        if (a != AUTH_OK) {
            sl_batch_unref(b);
            bump(s, ST_FORBIDDEN);
            return error_answer(conn, MHD_HTTP_FORBIDDEN,
                                "this api key is not given to this agent");
        }
    }
    struct sl_partout_settings before;
    sl_mutex_lock(&s->lock);
    sl_partout_policy_settings(s->policy, pb.uuid.ptr, pb.uuid.len, sl_clock_mono_ns(), &before);
    sl_mutex_unlock(&s->lock);
    int64_t period = pb.period_secs >= 0 ? pb.period_secs : before.period_secs;
    b->bytes = rq->body.len;
    if (build_events(s, b, &pb, period)) {
        sl_batch_unref(b);
        bump(s, ST_BAD);
        return error_answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    uint32_t nev = b->count;
    /* once emitted, b (and pb, which points into it) belongs to the pipeline: keep copies */
    uint64_t total = pb.total;
    char uuid_buf[256];
    size_t uuid_len = pb.uuid.len;
    char *uuid = uuid_len < sizeof(uuid_buf) ? uuid_buf : sl_xmalloc(uuid_len + 1);
    if (uuid_len)
        memcpy(uuid, pb.uuid.ptr, uuid_len);
    if (s->store)
        sl_batch_ref(b); /* keeps pb valid for the store once the pipeline owns b */
    enum MHD_Result ret = answer_accepted(c, conn, b, nev, total, uuid, uuid_len, legacy,
                                          s->store ? &pb : NULL, period);
    if (s->store)
        sl_batch_unref(b);
    if (uuid != uuid_buf)
        sl_free(uuid);
    return ret;
}

/* Emit b (nev events, total counts; consumed), count it into Em and answer. */
static enum MHD_Result answer_accepted(struct sl_component *c, struct MHD_Connection *conn,
                                       struct sl_batch *b, uint32_t nev, uint64_t total,
                                       const char *uuid, size_t uuid_len, bool legacy,
                                       const struct sl_partout_body *pb, int64_t period)
{
    struct partout_state *s = c->state;
    if (nev) {
        if (sl_source_stopping(c)) {
            sl_batch_unref(b);
            return error_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
        }
        if (sl_source_try_emit(c, b) != 0) {
            sl_batch_unref(b);
            bump(s, ST_FULL);
            return settings_error(c, conn, MHD_HTTP_TOO_MANY_REQUESTS,
                                  "pipeline full, retry later");
        }
    } else {
        sl_batch_unref(b);
    }
    /* accepted: count it into Em, then answer with the settings that follow */
    struct sl_partout_settings st;
    sl_mutex_lock(&s->lock);
    int64_t now = sl_clock_mono_ns();
    sl_partout_policy_record(s->policy, uuid, uuid_len, total, now);
    sl_partout_policy_settings(s->policy, uuid, uuid_len, now, &st);
    sl_mutex_unlock(&s->lock);
    if (pb && sl_partout_store_put(s->store, pb, period, st.level, st.period_secs))
        sl_warn(c->name, "partout store %s: an aggregate was not stored",
                sl_partout_store_path(s->store));
    bump(s, legacy ? ST_LEGACY : ST_AGGREGATES);
    atomic_fetch_add_explicit(&s->st[ST_LEAVES], nev, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->st[ST_COUNTS], total, memory_order_relaxed);
    struct sl_buf out;
    sl_buf_init(&out, 4096);
    if (legacy) {
        sl_buf_puts(&out, "received");
        return respond(conn, MHD_HTTP_OK, &out, "text/plain");
    }
    sl_buf_putc(&out, '{');
    put_settings(&out, &st);
    sl_buf_appendf(&out, ",\"accepted\":%u,\"count\":%llu}\n", nev, (unsigned long long)total);
    return respond(conn, MHD_HTTP_OK, &out, "application/json");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **con_cls)
{
    struct sl_component *c = cls;
    struct partout_conf *cf = c->conf;
    struct partout_state *s = c->state;
    struct request *rq = *con_cls;
    if (!rq) {
        rq = sl_xcalloc(1, sizeof(*rq));
        sl_buf_init(&rq->body, cf->max_body);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            int64_t n;
            if (sl_str_to_i64(sl_str_c(cl), &n) == 0 && n > 0 && (uint64_t)n > cf->max_body)
                rq->too_large = true;
        }
        *con_cls = rq;
        bump(s, ST_REQUESTS);
        return MHD_YES;
    }
    if (*upload_len) {
        if (!rq->too_large && sl_buf_append(&rq->body, upload, *upload_len))
            rq->too_large = true; /* discard the rest as it arrives */
        *upload_len = 0;
        return MHD_YES;
    }
    bool legacy = strcmp(url, cf->legacy_path) == 0;
    if (!legacy && strcmp(url, cf->path) != 0)
        return error_answer(conn, MHD_HTTP_NOT_FOUND, "not found");
    if (strcmp(method, "POST") != 0)
        return error_answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
    if (!client_cert_ok(c, conn)) {
        bump(s, ST_FORBIDDEN);
        return error_answer(conn, MHD_HTTP_FORBIDDEN, "client certificate missing or not trusted");
    }
    if (sl_source_stopping(c))
        return error_answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping");
    if (rq->too_large) {
        bump(s, ST_TOO_LARGE);
        char msg[96];
        snprintf(msg, sizeof(msg), "body larger than max_body (%llu bytes)",
                 (unsigned long long)cf->max_body);
        return error_answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    return handle_post(c, conn, rq, legacy);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct request *rq = *con_cls;
    if (rq) {
        sl_buf_fini(&rq->body);
        sl_free(rq);
    }
    *con_cls = NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static int read_pem(struct sl_component *c, const char *opt, const char *path, char **out,
                    struct sl_diag *d)
{
    struct sl_buf b;
    struct stat st;
    sl_buf_init(&b, PEM_MAX_LEN + 1);
    int rc = read_file(path, PEM_MAX_LEN, &b, &st);
    if (rc) {
        sl_buf_fini(&b);
        sl_component_diag_opt(c, opt, d);
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': %s %s: %s", c->name, opt, path,
                           sl_strerror(rc));
    }
    size_t len;
    *out = sl_buf_steal(&b, &len);
    if (!*out)
        *out = sl_xstrdup("");
    return 0;
}

/* A restart keeps the estimator: the counts of the last window, from the store. */
static int replay_one(void *ud, struct sl_str agent, int64_t at_ms, uint64_t count)
{
    struct partout_state *s = ud;
    int64_t ago_ns = (sl_clock_wall_ns() / 1000000 - at_ms) * 1000000;
    sl_partout_policy_record(s->policy, agent.ptr, agent.len, count,
                             sl_clock_mono_ns() - (ago_ns > 0 ? ago_ns : 0));
    return 0;
}

static int init_inner(struct sl_component *c, struct sl_diag *d)
{
    struct partout_conf *cf = c->conf;
    char host[256];
    uint16_t port;
    if (sl_net_split_hostport(cf->listen, host, sizeof(host), &port)) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "write listen: \"127.0.0.1:10443\"");
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': invalid address \"%s\"", c->name,
                           cf->listen);
    }
    if (cf->path[0] != '/' || cf->legacy_path[0] != '/') {
        sl_component_diag_opt(c, cf->path[0] != '/' ? "path" : "legacy_path", d);
        sl_diag_hint(d, "paths start with '/'");
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': invalid path", c->name);
    }
    struct partout_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    sl_mutex_init(&s->lock);
    struct sl_partout_conf *pc = &s->pc;
    sl_partout_conf_default(pc);
    pc->divisor = cf->divisor;
    pc->period_min_secs = cf->period_min_ns / 1000000000LL;
    pc->period_max_secs = cf->period_max_ns / 1000000000LL;
    pc->t_obj = cf->t_obj;
    pc->t_mod = cf->t_mod;
    pc->t_uuid = cf->t_uuid;
    pc->t_max = cf->t_max;
    pc->bucket_ns = cf->bucket_ns;
    pc->window_buckets = cf->bucket_ns > 0 && cf->window_ns >= cf->bucket_ns &&
                                 cf->window_ns / cf->bucket_ns <= SL_PARTOUT_MAX_BUCKETS
                             ? (uint32_t)(cf->window_ns / cf->bucket_ns)
                             : 0;
    pc->splay = cf->splay;
    pc->alive_secs = cf->alive_ns / 1000000000LL;
    pc->per_agent = cf->per_agent;
    pc->max_agents = (uint32_t)cf->max_agents;
    struct sl_diag pd;
    sl_diag_init(&pd);
    if (sl_partout_conf_check(pc, &pd)) {
        sl_component_diag_opt(c, NULL, d);
        sl_diag_hint(d, "window must be a whole number of buckets (at most %u)",
                     SL_PARTOUT_MAX_BUCKETS);
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': %s", c->name, pd.msg);
    }
    s->lim.max_leaves = (uint32_t)cf->max_leaves;
    s->lim.max_key_len = (uint32_t)cf->max_key_len;
    s->lim.max_depth = (uint32_t)cf->max_depth;
    /* with a store, the window before now is replayed from it (replay_one): room for it */
    int64_t window_ns = cf->store ? (int64_t)pc->window_buckets * pc->bucket_ns : 0;
    s->policy = sl_partout_policy_new(pc, sl_clock_mono_ns() - window_ns);
    s->f_agent = sl_sym_intern_c("agent");
    s->f_hostname = sl_sym_intern_c("hostname");
    s->f_module = sl_sym_intern_c("module");
    s->f_object = sl_sym_intern_c("object");
    s->f_msg = sl_sym_intern_c("msg");
    s->f_level = sl_sym_intern_c("level");
    s->f_detail = sl_sym_intern_c("detail");
    s->f_count = sl_sym_intern_c("count");
    s->f_period = sl_sym_intern_c("period");
    if (cf->store) {
        int rc = sl_partout_store_open(cf->store, NULL, &s->store, d);
        if (rc) {
            sl_component_diag_opt(c, "store", d);
            return rc;
        }
        sl_partout_store_set_default(s->store); /* GET /api/v1/partout on the API listener */
        sl_partout_store_replay(s->store, sl_clock_wall_ns() / 1000000 - window_ns / 1000000,
                                replay_one, s);
    }
    if (cf->keys) {
        int rc = load_keys(c, true, d);
        if (rc) {
            sl_component_diag_opt(c, "keys", d);
            return rc == SL_EPARSE ? rc : SL_ECONFIG;
        }
        if (!s->nkeys)
            sl_warn(c->name, "no api key in %s: every request will be refused (401)", cf->keys);
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    bool tls = cf->tls_cert || cf->tls_key;
    if (tls) {
        if (!cf->tls_cert || !cf->tls_key) {
            sl_component_diag_opt(c, cf->tls_cert ? "tls_key" : "tls_cert", d);
            return sl_diag_set(d, SL_ECONFIG, "partout '%s': tls_cert and tls_key go together",
                               c->name);
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            sl_component_diag_opt(c, "tls_cert", d);
            return sl_diag_set(d, SL_ECONFIG, "partout '%s': this libmicrohttpd has no TLS",
                               c->name);
        }
        int rc = read_pem(c, "tls_cert", cf->tls_cert, &s->pem_cert, d);
        if (!rc)
            rc = read_pem(c, "tls_key", cf->tls_key, &s->pem_key, d);
        if (!rc && cf->tls_ca)
            rc = read_pem(c, "tls_ca", cf->tls_ca, &s->pem_ca, d);
        if (rc)
            return rc;
        if (cf->tls_ca) {
            *(void **)&s->verify_peers = dlsym(RTLD_DEFAULT, "gnutls_certificate_verify_peers2");
            if (!s->verify_peers) {
                sl_component_diag_opt(c, "tls_ca", d);
                return sl_diag_set(d, SL_ECONFIG,
                                   "partout '%s': cannot find GnuTLS to check client "
                                   "certificates",
                                   c->name);
            }
        }
        flags |= MHD_USE_TLS;
    } else if (cf->tls_ca) {
        sl_component_diag_opt(c, "tls_ca", d);
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': tls_ca needs tls_cert and tls_key",
                           c->name);
    }
    int fd = sl_net_listen_tcp(host, port, 512);
    if (fd < 0) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "pick another port, or stop what listens there");
        return sl_diag_set(d, SL_ECONFIG, "partout '%s': cannot listen on %s: %s", c->name,
                           cf->listen, sl_strerror(fd));
    }
    s->port = sl_net_local_port(fd);
    struct MHD_OptionItem opts[8];
    size_t no = 0;
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cf->threads, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
    if (tls) {
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->pem_cert};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->pem_key};
    }
    if (s->pem_ca)
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->pem_ca};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, c, MHD_OPTION_NOTIFY_COMPLETED,
                              completed, NULL, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd) {
        close(fd);
        return sl_diag_set(d, SL_ESYS, "partout '%s': cannot start the HTTP server%s", c->name,
                           tls ? " (check tls_cert / tls_key)" : "");
    }
    return 0;
}

static void partout_fini(struct sl_component *c);

/* An init that fails frees what it built (fini is not called then). */
static int partout_init(struct sl_component *c, struct sl_diag *d)
{
    int rc = init_inner(c, d);
    if (rc) {
        partout_fini(c);
        c->state = NULL;
    }
    return rc;
}

static int partout_run(struct sl_component *c)
{
    struct partout_state *s = c->state;
    sl_info(c->name, "listening on port %d", s->port);
    while (!sl_source_stopping(c)) {
        struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
        poll(&pfd, 1, 500);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    sl_info(c->name, "stopped: %llu requests, %llu aggregates, %llu counts, %llu bad",
            (unsigned long long)atomic_load(&s->st[ST_REQUESTS]),
            (unsigned long long)atomic_load(&s->st[ST_AGGREGATES]),
            (unsigned long long)atomic_load(&s->st[ST_COUNTS]),
            (unsigned long long)atomic_load(&s->st[ST_BAD]));
    return 0;
}

static void partout_fini(struct sl_component *c)
{
    struct partout_state *s = c->state;
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    if (s->store) { /* after the daemon: no put is in flight */
        if (sl_partout_store_default() == s->store)
            sl_partout_store_set_default(NULL);
        sl_partout_store_close(s->store);
    }
    sl_partout_policy_free(s->policy);
    free_keys(s->keys, s->nkeys);
    sl_free(s->pem_cert);
    sl_free(s->pem_key);
    sl_free(s->pem_ca);
    sl_mutex_fini(&s->lock);
    sl_free(s);
}

static size_t partout_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct partout_state *s = c->state;
    if (!s)
        return 0;
    static const struct {
        const char *name, *help;
    } names[ST__COUNT] = {
        {"sluice_partout_requests", "HTTP requests"},
        {"sluice_partout_aggregates", "aggregates accepted (POST /events)"},
        {"sluice_partout_leaves", "events emitted (one per leaf count)"},
        {"sluice_partout_counts", "sum of the counts accepted"},
        {"sluice_partout_bad_requests", "bodies answered 400"},
        {"sluice_partout_unauthorized", "requests answered 401"},
        {"sluice_partout_forbidden", "requests answered 403"},
        {"sluice_partout_too_large", "bodies answered 413"},
        {"sluice_partout_pipeline_full", "requests answered 429"},
        {"sluice_partout_legacy_events", "legacy POST /event accepted"},
    };
    size_t n = 0;
    for (int i = 0; i < ST__COUNT && n < SL_COMP_STATS_MAX - 2; i++)
        out[n++] = (struct sl_comp_stat){names[i].name, names[i].help, false,
                                         (double)atomic_load(&s->st[i])};
    sl_mutex_lock(&s->lock);
    int64_t now = sl_clock_mono_ns();
    double em = sl_partout_policy_em(s->policy, now);
    uint32_t agents = sl_partout_policy_active(s->policy, now);
    sl_mutex_unlock(&s->lock);
    out[n++] = (struct sl_comp_stat){"sluice_partout_events_per_minute",
                                     "Em, the master's events per minute", true, em};
    out[n++] = (struct sl_comp_stat){"sluice_partout_agents", "agents seen in the window", true,
                                     (double)agents};
    if (s->store && n + 4 <= SL_COMP_STATS_MAX) {
        struct sl_partout_store_stats ss;
        sl_partout_store_get_stats(s->store, &ss);
        out[n++] =
            (struct sl_comp_stat){"sluice_partout_store_leaves",
                                  "leaf counts committed to the store", false, (double)ss.leaves};
        out[n++] = (struct sl_comp_stat){"sluice_partout_store_commits",
                                         "store transactions committed or failed", false,
                                         (double)ss.commits};
        out[n++] = (struct sl_comp_stat){"sluice_partout_store_commit_errors",
                                         "store commits that failed (retried)", false,
                                         (double)ss.commit_errors};
        out[n++] =
            (struct sl_comp_stat){"sluice_partout_store_rolled",
                                  "rows rolled up into a coarser tier", false, (double)ss.rolled};
    }
    return n;
}

static const struct sl_option partout_opts[] = {
    {"listen", SL_OPT_STRING, NULL, offsetof(struct partout_conf, listen),
     "address to listen on, \"host:port\" (Partout used 10443)", NULL, 0, 0, SL_OPT_REQUIRED},
    {"path", SL_OPT_STRING, "/events", offsetof(struct partout_conf, path),
     "URL path of aggregates (POST)", NULL, 0, 0, 0},
    {"legacy_path", SL_OPT_STRING, "/event", offsetof(struct partout_conf, legacy_path),
     "URL path of single legacy events (POST), answered \"received\"", NULL, 0, 0, 0},
    {"keys", SL_OPT_STRING, NULL, offsetof(struct partout_conf, keys),
     "file of \"<agent uuid or *> <api key>\" lines, re-read when it changes; unset: no keys", NULL,
     0, 0, 0},
    {"tls_cert", SL_OPT_STRING, NULL, offsetof(struct partout_conf, tls_cert),
     "PEM certificate (chain): serve HTTPS", NULL, 0, 0, 0},
    {"tls_key", SL_OPT_STRING, NULL, offsetof(struct partout_conf, tls_key),
     "PEM private key of tls_cert", NULL, 0, 0, 0},
    {"tls_ca", SL_OPT_STRING, NULL, offsetof(struct partout_conf, tls_ca),
     "PEM CA(s): ask agents for client certificates and check them against these", NULL, 0, 0, 0},
    {"tls_client_cert", SL_OPT_ENUM, "optional", offsetof(struct partout_conf, tls_client_cert),
     "with tls_ca: optional (a certificate given must verify) or required", "optional|required", 0,
     0, 0},
    {"max_body", SL_OPT_SIZE, "1MiB", offsetof(struct partout_conf, max_body),
     "larger bodies are answered 413", NULL, 0, 0, 0},
    {"max_leaves", SL_OPT_INT, "10000", offsetof(struct partout_conf, max_leaves),
     "leaf counts per body (a body with more is answered 400)", NULL, 1, 1000000, 0},
    {"max_key_len", SL_OPT_INT, "1024", offsetof(struct partout_conf, max_key_len),
     "bytes of a uuid, module, object or message key (decoded)", NULL, 1, 65536, 0},
    {"max_depth", SL_OPT_INT, "10", offsetof(struct partout_conf, max_depth),
     "JSON nesting of a body (the full tree needs 8)", NULL, 8, 64, 0},
    {"divisor", SL_OPT_DOUBLE, "100", offsetof(struct partout_conf, divisor), "D: Ps = int(Em / D)",
     NULL, 0, 0, 0},
    {"period_min", SL_OPT_DURATION, "10s", offsetof(struct partout_conf, period_min_ns),
     "Pmin: the shortest period agents are told", NULL, 0, 0, 0},
    {"period_max", SL_OPT_DURATION, "1h", offsetof(struct partout_conf, period_max_ns),
     "Pmax: the longest period agents are told", NULL, 0, 0, 0},
    {"t_obj", SL_OPT_DOUBLE, "500", offsetof(struct partout_conf, t_obj),
     "Tobj: from this Em, level 3 (counts by object)", NULL, 0, 0, 0},
    {"t_mod", SL_OPT_DOUBLE, "2000", offsetof(struct partout_conf, t_mod),
     "Tmod: from this Em, level 2 (counts by module)", NULL, 0, 0, 0},
    {"t_uuid", SL_OPT_DOUBLE, "5000", offsetof(struct partout_conf, t_uuid),
     "Tuuid: from this Em, level 1 (counts by agent)", NULL, 0, 0, 0},
    {"t_max", SL_OPT_DOUBLE, "10000", offsetof(struct partout_conf, t_max),
     "Tmax: from this Em, level 0 (alive notices)", NULL, 0, 0, 0},
    {"window", SL_OPT_DURATION, "5m", offsetof(struct partout_conf, window_ns),
     "the sliding window Em is averaged over (a whole number of buckets)", NULL, 0, 0, 0},
    {"bucket", SL_OPT_DURATION, "1m", offsetof(struct partout_conf, bucket_ns),
     "bucket of the window; Em is always per minute", NULL, 0, 0, 0},
    {"splay", SL_OPT_DOUBLE, "0.05", offsetof(struct partout_conf, splay),
     "aggregate_period_splay told to agents (jitter: +-splay/2 of the period)", NULL, 0, 0, 0},
    {"alive_period", SL_OPT_DURATION, "1d", offsetof(struct partout_conf, alive_ns),
     "notify_alive_period_secs told to agents", NULL, 0, 0, 0},
    {"per_agent", SL_OPT_BOOL, "true", offsetof(struct partout_conf, per_agent),
     "per-agent share: quiet agents keep more detail than the master's level", NULL, 0, 0, 0},
    {"max_agents", SL_OPT_INT, "100000", offsetof(struct partout_conf, max_agents),
     "agents tracked one by one; more get the master's settings", NULL, 1, 100000000, 0},
    {"threads", SL_OPT_INT, "2", offsetof(struct partout_conf, threads), "HTTP worker threads",
     NULL, 1, 64, 0},
    {"store", SL_OPT_STRING, NULL, offsetof(struct partout_conf, store),
     "where every accepted aggregate is kept with hourly/daily/weekly roll-ups: a SQLite "
     "file, or postgres://user@host:port/db shared by several masters (GET /api/v1/partout, "
     "sluice partout)",
     NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_partout_ops = {
    .type = "partout",
    .kind = SL_KIND_SOURCE,
    .summary = "Partout master: POST /events aggregates -> one event per leaf count; answers "
               "each agent its period, splay, level",
    .options = partout_opts,
    .conf_len = sizeof(struct partout_conf),
    .init = partout_init,
    .fini = partout_fini,
    .run = partout_run,
    .stats = partout_stats,
};
