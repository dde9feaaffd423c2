/*
 * httpd.c — the shared HTTP listener: tokens, TLS, limits (httpd.h).
 *
 * DESIGN: tokens live behind a mutex; sl_tokens_check() stats the file at most once a second
 * (CHECK_NS) and swaps in a new table when it changed, so an operator rotates tokens by
 * editing the file, without a restart. Client certificates: libmicrohttpd asks for them when
 * given a trust list (MHD_OPTION_HTTPS_MEM_TRUST) but does not refuse a bad one, so each
 * request checks the session with gnutls_certificate_verify_peers2().
 */
#include "io/httpd.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/json.h"
#include "sys/fdio.h"
#include "sys/net.h"
#include "sys/thread.h"

#include <stddef.h>

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKENS_MAX_LEN (4u << 20)
#define PEM_MAX_LEN    (1u << 20)
#define CHECK_NS       (1000 * 1000000LL)

/* ------------------------------------------------------------------------------------------
 * Tokens
 */

struct token {
    char *name; /* NULL: "*" */
    char *secret;
    size_t secret_len;
};

struct sl_tokens {
    char *path, *who;
    struct sl_mutex lock;
    struct token *t; /* guarded_by: lock */
    size_t n;        /* guarded_by: lock */
    struct stat st;  /* guarded_by: lock: the file as last loaded */
    int64_t checked; /* guarded_by: lock: mono ns of the last stat */
};

static void free_tokens(struct token *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sl_free(t[i].name);
        sl_free(t[i].secret);
    }
    sl_free(t);
}

/* "<name> <token>" lines. 0, or SL_EPARSE with d naming FILE:LINE. */
static int parse_tokens(const char *path, const char *p, size_t len, struct token **out,
                        size_t *nout, struct sl_diag *d)
{
    struct token *t = NULL;
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
        struct sl_str name = sl_str_make(line.ptr, i);
        struct sl_str secret = sl_str_trim(sl_str_make(line.ptr + i, line.len - i));
        if (!secret.len || memchr(secret.ptr, ' ', secret.len) ||
            memchr(secret.ptr, '\t', secret.len)) {
            free_tokens(t, n);
            return sl_diag_set(d, SL_EPARSE, "%s:%u: expected \"<name or *> <token>\"", path,
                               lineno);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            t = sl_xrealloc(t, cap * sizeof(*t));
        }
        t[n].name = sl_str_eq_c(name, "*") ? NULL : sl_xstrndup(name.ptr, name.len);
        t[n].secret = sl_xstrndup(secret.ptr, secret.len);
        t[n].secret_len = secret.len;
        n++;
    }
    *out = t;
    *nout = n;
    return 0;
}

/* Lock held. Re-read when the file changed (or force). On failure the old tokens stay. */
static int reload(struct sl_tokens *k, bool force, struct sl_diag *d)
{
    struct stat st;
    if (stat(k->path, &st) != 0)
        return sl_diag_set(d, SL_EIO, "tokens file %s: %s", k->path, strerror(errno));
    if (!force && st.st_ino == k->st.st_ino && st.st_dev == k->st.st_dev &&
        st.st_size == k->st.st_size && st.st_mtim.tv_sec == k->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == k->st.st_mtim.tv_nsec)
        return 0;
    struct sl_buf b;
    sl_buf_init(&b, TOKENS_MAX_LEN);
    int rc = sl_fs_read_small(k->path, TOKENS_MAX_LEN, &b, &st);
    if (rc) {
        sl_buf_fini(&b);
        return sl_diag_set(d, rc, "tokens file %s: %s", k->path, sl_strerror(rc));
    }
    struct token *t = NULL;
    size_t n = 0;
    rc = parse_tokens(k->path, b.ptr ? b.ptr : "", b.len, &t, &n, d);
    sl_buf_fini(&b);
    if (rc)
        return rc;
    free_tokens(k->t, k->n);
    k->t = t;
    k->n = n;
    k->st = st;
    sl_info(k->who, "loaded %zu token(s) from %s", n, k->path);
    return 0;
}

int sl_tokens_open(const char *path, const char *who, struct sl_tokens **out, struct sl_diag *d)
{
    struct sl_tokens *k = sl_xcalloc(1, sizeof *k);
    k->path = sl_xstrdup(path);
    k->who = sl_xstrdup(who ? who : "http");
    sl_mutex_init(&k->lock);
    int rc = reload(k, true, d);
    if (rc) {
        sl_tokens_close(k);
        return rc;
    }
    k->checked = sl_clock_mono_ns();
    if (!k->n)
        sl_warn(k->who, "no token in %s: every request that needs one will be refused (401)", path);
    *out = k;
    return 0;
}

void sl_tokens_close(struct sl_tokens *k)
{
    if (!k)
        return;
    free_tokens(k->t, k->n);
    sl_mutex_fini(&k->lock);
    sl_free(k->path);
    sl_free(k->who);
    sl_free(k);
}

size_t sl_tokens_count(struct sl_tokens *k)
{
    sl_mutex_lock(&k->lock);
    size_t n = k->n;
    sl_mutex_unlock(&k->lock);
    return n;
}

static bool ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < alen && i < blen; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* Lock held. Whether token is in the table (who, allowed for name). */
static bool lookup(struct sl_tokens *k, const char *token, size_t tl, const struct sl_str *name,
                   const char **who, bool *allowed)
{
    bool known = false;
    *allowed = false;
    for (size_t i = 0; i < k->n; i++) {
        if (!ct_equal(k->t[i].secret, k->t[i].secret_len, token, tl))
            continue;
        known = true;
        if (who && !*who)
            *who = k->t[i].name ? k->t[i].name : "*";
        if (!k->t[i].name ||
            (name && ct_equal(k->t[i].name, strlen(k->t[i].name), name->ptr, name->len)))
            *allowed = true;
    }
    return known;
}

enum sl_auth sl_tokens_check(struct sl_tokens *k, const char *token, const struct sl_str *name,
                             const char **who)
{
    if (who)
        *who = NULL;
    if (!token || !*token)
        return SL_AUTH_MISSING;
    size_t tl = strlen(token);
    sl_mutex_lock(&k->lock);
    bool allowed;
    bool known = lookup(k, token, tl, name, who, &allowed);
    int64_t now = sl_clock_mono_ns();
    /* a revoked token goes within a second; a new one works at once (an unknown token makes
     * the file be looked at again: one stat) */
    if (now - k->checked >= CHECK_NS || !known || !allowed) {
        k->checked = now;
        struct sl_diag d;
        sl_diag_init(&d);
        struct stat before = k->st;
        if (reload(k, false, &d))
            sl_warn(k->who, "%s (the previous tokens stay)", d.msg);
        else if (memcmp(&before, &k->st, sizeof before) != 0) {
            if (who)
                *who = NULL; /* it pointed into the table the reload freed */
            known = lookup(k, token, tl, name, who, &allowed);
        }
    }
    sl_mutex_unlock(&k->lock);
    if (!known)
        return SL_AUTH_UNKNOWN;
    return !name || allowed ? SL_AUTH_OK : SL_AUTH_FORBIDDEN;
}

const char *sl_httpd_token_of(struct MHD_Connection *conn)
{
    const char *k = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Key");
    if (k)
        return k;
    const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0)
        return a + 7;
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Listener
 */

struct sl_httpd {
    struct MHD_Daemon *mhd;
    int port;
    bool tls, check_certs, require_cert;
    char *pem_cert, *pem_key, *pem_ca;
    struct sl_tokens *tokens;
};

static int read_pem(const char *what, const char *key, const char *path, char **out,
                    struct sl_diag *d)
{
    struct sl_buf b;
    sl_buf_init(&b, PEM_MAX_LEN);
    struct stat st;
    int rc = sl_fs_read_small(path, PEM_MAX_LEN, &b, &st);
    if (rc) {
        sl_buf_fini(&b);
        return sl_diag_set(d, SL_ECONFIG, "%s: %s %s: %s", what, key, path, sl_strerror(rc));
    }
    if (!b.len || !strstr(b.ptr, "-----BEGIN ")) {
        sl_buf_fini(&b);
        return sl_diag_set(d, SL_ECONFIG, "%s: %s %s: not a PEM file", what, key, path);
    }
    size_t len = 0;
    *out = sl_buf_steal(&b, &len);
    return 0;
}

void sl_httpd_stop(struct sl_httpd *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd); /* closes the listening socket too */
    sl_tokens_close(s->tokens);
    sl_free(s->pem_cert);
    sl_free(s->pem_key);
    sl_free(s->pem_ca);
    sl_free(s);
}

int sl_httpd_start(const struct sl_httpd_opts *o, MHD_AccessHandlerCallback h, void *cls,
                   MHD_RequestCompletedCallback done, void *done_cls, struct sl_httpd **out,
                   const char **bad_opt, struct sl_diag *d)
{
    *out = NULL;
    const char *bad = NULL;
    int rc = 0;
    char host[256];
    uint16_t port;
    struct sl_httpd *s = sl_xcalloc(1, sizeof *s);
    if (!o->listen || sl_net_split_hostport(o->listen, host, sizeof(host), &port)) {
        bad = "listen";
        sl_diag_hint(d, "write listen: \"127.0.0.1:8686\"");
        rc = sl_diag_set(d, SL_ECONFIG, "%s: invalid address \"%s\"", o->what,
                         o->listen ? o->listen : "");
        goto fail;
    }
    s->tls = o->tls_cert || o->tls_key;
    if (s->tls && (!o->tls_cert || !o->tls_key)) {
        bad = o->tls_cert ? "tls_key" : "tls_cert";
        rc = sl_diag_set(d, SL_ECONFIG, "%s: tls_cert and tls_key go together", o->what);
        goto fail;
    }
    if (!s->tls && o->tls_ca) {
        bad = "tls_ca";
        rc = sl_diag_set(d, SL_ECONFIG, "%s: tls_ca needs tls_cert and tls_key", o->what);
        goto fail;
    }
    if (s->tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        bad = "tls_cert";
        rc = sl_diag_set(d, SL_ECONFIG, "%s: this libmicrohttpd has no TLS", o->what);
        goto fail;
    }
    if (s->tls && ((rc = read_pem(o->what, "tls_cert", o->tls_cert, &s->pem_cert, d)) != 0 ||
                   (rc = read_pem(o->what, "tls_key", o->tls_key, &s->pem_key, d)) != 0)) {
        bad = s->pem_cert ? "tls_key" : "tls_cert";
        goto fail;
    }
    if (o->tls_ca && (rc = read_pem(o->what, "tls_ca", o->tls_ca, &s->pem_ca, d)) != 0) {
        bad = "tls_ca";
        goto fail;
    }
    s->check_certs = o->tls_ca != NULL;
    s->require_cert = o->require_client_cert;
    if (o->tokens && (rc = sl_tokens_open(o->tokens, o->what, &s->tokens, d)) != 0) {
        bad = "tokens";
        goto fail;
    }
    int fd = sl_net_listen_tcp(host, port, (int)(o->backlog ? o->backlog : 512));
    if (fd < 0) {
        bad = "listen";
        sl_diag_hint(d, "pick another port, or stop what listens there");
        rc = sl_diag_set(d, SL_ECONFIG, "%s: cannot listen on %s: %s", o->what, o->listen,
                         sl_strerror(fd));
        goto fail;
    }
    s->port = sl_net_local_port(fd);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (s->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[12];
    size_t no = 0;
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
    if (o->threads > 1)
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                         o->timeout_secs ? o->timeout_secs : 60, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                         o->max_connections ? o->max_connections : 256, NULL};
    if (o->max_per_ip)
        opts[no++] =
            (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_per_ip, NULL};
    if (s->tls) {
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->pem_cert};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->pem_key};
    }
    if (s->pem_ca)
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->pem_ca};
    if (done)
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)done, done_cls};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* the handler may run before MHD_start_daemon returns and reads the caller's pointer to
     * this listener: it is set first (thread creation orders it before the handler) */
    *out = s;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, h, cls, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->mhd) {
        *out = NULL;
        close(fd);
        bad = s->tls ? "tls_cert" : "listen";
        rc = sl_diag_set(d, SL_ESYS, "%s: cannot start the HTTP server on %s%s", o->what, o->listen,
                         s->tls ? " (check tls_cert and tls_key)" : "");
        goto fail;
    }
    return 0;
fail:
    if (bad_opt)
        *bad_opt = bad;
    sl_httpd_stop(s);
    return rc;
}

void sl_httpd_opts_set(struct sl_httpd_opts *o, const struct sl_httpd_conf *cf)
{
    o->tls_cert = cf->tls_cert;
    o->tls_key = cf->tls_key;
    o->tls_ca = cf->tls_ca;
    o->require_client_cert = cf->tls_client_cert == 1;
    o->max_connections = (unsigned)cf->max_connections;
    o->max_per_ip = (unsigned)cf->max_per_ip;
}

int sl_httpd_port(const struct sl_httpd *s)
{
    return s->port;
}

bool sl_httpd_tls(const struct sl_httpd *s)
{
    return s->tls;
}

struct sl_tokens *sl_httpd_tokens(struct sl_httpd *s)
{
    return s->tokens;
}

bool sl_httpd_client_cert_ok(struct sl_httpd *s, struct MHD_Connection *conn)
{
    if (!s->check_certs)
        return true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session)
        return false;
    gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers2(sess, &status);
    if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND)
        return !s->require_cert;
    return rc == 0 && status == 0;
}

enum sl_auth sl_httpd_authorize(struct sl_httpd *s, struct MHD_Connection *conn, const char **who)
{
    if (who)
        *who = NULL;
    if (!s->tokens)
        return SL_AUTH_OK;
    return sl_tokens_check(s->tokens, sl_httpd_token_of(conn), NULL, who);
}

enum MHD_Result sl_httpd_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct sl_buf b;
    sl_buf_init(&b, 0);
    sl_buf_puts(&b, "{\"error\":");
    sl_json_write_string(&b, msg, strlen(msg));
    sl_buf_puts(&b, "}\n");
    size_t len = 0;
    char *p = sl_buf_steal(&b, &len);
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(len, p ? p : sl_xstrdup(""), sl_free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (status == MHD_HTTP_TOO_MANY_REQUESTS || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(r, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result sl_httpd_refuse(struct MHD_Connection *conn, enum sl_auth a)
{
    switch (a) {
    case SL_AUTH_MISSING:
        return sl_httpd_error(conn, MHD_HTTP_UNAUTHORIZED,
                              "a token is required (Authorization: Bearer TOKEN)");
    case SL_AUTH_UNKNOWN:
        return sl_httpd_error(conn, MHD_HTTP_UNAUTHORIZED, "unknown token");
    case SL_AUTH_FORBIDDEN:
        return sl_httpd_error(conn, MHD_HTTP_FORBIDDEN, "this token is not for this resource");
    default:
        return sl_httpd_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "authorization");
    }
}
