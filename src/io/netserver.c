/*
 * netserver.c — TCP/TLS/UDP server loop for line- and frame-oriented sources (netserver.h).
 *
 * DESIGN: one level-triggered epoll set on the source thread holds the stop fd, the TCP
 * listener, the UDP socket and every connection. A readable connection gets a bounded number
 * of reads (16 x 256 KiB) per wake-up so one fast client cannot starve the others. Framing is
 * io/netframe.c, one framer per connection: a frame that lies whole in the read buffer is
 * passed as a view of it, only a frame split across reads is copied. TLS is a
 * GnuTLS session per connection on the same non-blocking socket: the handshake advances on
 * readiness (EPOLLOUT only while GnuTLS wants to write), and records buffered inside GnuTLS
 * are drained before going back to epoll, since epoll cannot see them. UDP datagrams are
 * read 64 at a time with recvmmsg(); the SO_RXQ_OVFL control message carries the kernel's
 * drop counter for the socket, so drops are counted exactly without reading /proc.
 */
#include "io/netserver.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "sys/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_LEN      (256u * 1024u)
#define READS_PER_RUN 16
#define UDP_BATCH     64
#define IDLE_MS       100

struct sl_netconn {
    int fd;
    bool udp;
    bool handshaking;
    bool want_write; /* EPOLLOUT registered (TLS handshake) */
    gnutls_session_t tls;
    void *user;
    char peer[INET6_ADDRSTRLEN + 16];
    size_t peer_len;
    uint64_t peer_gen;
    uint8_t addr[16]; /* the client's address (IPv4 in the first 4 bytes), for max_per_ip */
    uint8_t addr_len; /* 4 or 16; 0 unknown (never counted) */
    int64_t since_ns; /* mono: accepted, or last readable */
    struct sl_netframer fr;
    struct sl_netconn *next, *prev;
};

struct sl_netserver {
    struct sl_component *c;
    struct sl_netserver_cbs cb;
    enum sl_netserver_framing framing;
    size_t max_frame;
    int64_t max_connections;
    int64_t max_per_ip; /* 0: no per-address limit */
    int lfd, ufd;
    int tcp_port, udp_port;
    bool paused; /* the listener is out of the epoll set (max_connections, or accept failed) */
    struct sl_log_limit accept_log;
    struct sl_log_limit reject_log;
    struct sl_netconn *conns;
    struct sl_netconn *udp; /* the UDP socket's pseudo-connection */
    int64_t nconns;
    char *buf;
    /* UDP receive buffers */
    char *ubuf;
    struct mmsghdr *umsg;
    struct iovec *uiov;
    struct sockaddr_storage *uaddr;
    char (*uctl)[CMSG_SPACE(sizeof(uint32_t))];
    struct sockaddr_storage last_peer;
    socklen_t last_peer_len;
    /* TLS */
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    bool tls;
    bool require_cert;
    uint64_t peer_gen;
    int64_t last_idle_ns;
    int64_t idle_timeout_ns, handshake_timeout_ns;
    struct {
        atomic_uint_fast64_t accepted, open, tls_failed, frames, truncated, udp_datagrams,
            udp_dropped, timed_out, rejected;
    } st;
};

const char *sl_netconn_peer(const struct sl_netconn *k, size_t *len)
{
    *len = k->peer_len;
    return k->peer;
}

uint64_t sl_netconn_peer_gen(const struct sl_netconn *k)
{
    return k->peer_gen;
}

void *sl_netconn_user(const struct sl_netconn *k)
{
    return k->user;
}

bool sl_netconn_is_udp(const struct sl_netconn *k)
{
    return k->udp;
}

static void format_peer(struct sl_netserver *s, struct sl_netconn *k,
                        const struct sockaddr_storage *ss)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int n;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
        n = snprintf(k->peer, sizeof(k->peer), "%s:%d", host, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        n = snprintf(k->peer, sizeof(k->peer), "[%s]:%d", host, port);
    } else {
        n = snprintf(k->peer, sizeof(k->peer), "?");
    }
    k->peer_len = n > 0 && (size_t)n < sizeof(k->peer) ? (size_t)n : strlen(k->peer);
    k->peer_gen = ++s->peer_gen;
}

/* ---- set-up */

static int bind_udp(const char *spec, int rcvbuf, int *fd_out)
{
    char host[256];
    uint16_t port;
    if (sl_net_split_hostport(spec, host, sizeof(host), &port))
        return SL_EINVAL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host[0] ? host : NULL, ps, &hints, &res))
        return SL_EINVAL;
    int fd = -1, err = SL_EINVAL;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err;
    *fd_out = fd;
    return 0;
}

static int tls_setup(struct sl_netserver *s, const struct sl_netserver_opts *o, struct sl_diag *d)
{
    int rc = gnutls_certificate_allocate_credentials(&s->cred);
    if (rc < 0)
        return sl_diag_set(d, SL_ECONFIG, "%s '%s': TLS: %s", s->c->ops->type, s->c->name,
                           gnutls_strerror(rc));
    if (!o->tls_key)
        return sl_diag_set(d, SL_ECONFIG, "%s '%s': tls.cert needs tls.key", s->c->ops->type,
                           s->c->name);
    rc =
        gnutls_certificate_set_x509_key_file(s->cred, o->tls_cert, o->tls_key, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        return sl_diag_set(d, SL_ECONFIG, "%s '%s': TLS certificate %s / key %s: %s",
                           s->c->ops->type, s->c->name, o->tls_cert, o->tls_key,
                           gnutls_strerror(rc));
    if (o->tls_ca) {
        rc = gnutls_certificate_set_x509_trust_file(s->cred, o->tls_ca, GNUTLS_X509_FMT_PEM);
        if (rc <= 0)
            return sl_diag_set(d, SL_ECONFIG, "%s '%s': TLS CA %s: %s", s->c->ops->type, s->c->name,
                               o->tls_ca, rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
    } else if (o->tls_require_client_cert) {
        return sl_diag_set(d, SL_ECONFIG,
                           "%s '%s': tls.require_client_cert needs tls.ca (the CA that signs the "
                           "clients' certificates)",
                           s->c->ops->type, s->c->name);
    }
    rc = gnutls_priority_init(&s->prio, NULL, NULL);
    if (rc < 0)
        return sl_diag_set(d, SL_ECONFIG, "%s '%s': TLS priorities: %s", s->c->ops->type,
                           s->c->name, gnutls_strerror(rc));
    s->tls = true;
    s->require_cert = o->tls_require_client_cert;
    return 0;
}

int sl_netserver_new(struct sl_component *c, const struct sl_netserver_opts *o,
                     const struct sl_netserver_cbs *cbs, const char *tcp_opt, const char *udp_opt,
                     struct sl_netserver **out, struct sl_diag *d)
{
    struct sl_netserver *s = sl_xcalloc(1, sizeof(*s));
    s->c = c;
    s->cb = *cbs;
    s->framing = o->framing;
    s->max_frame = o->max_frame ? o->max_frame : 64u * 1024u;
    s->max_connections = o->max_connections > 0 ? o->max_connections : 1024;
    s->max_per_ip = o->max_per_ip > 0 ? o->max_per_ip : 0;
    s->idle_timeout_ns = o->idle_timeout_ns > 0 ? o->idle_timeout_ns : 0;
    s->handshake_timeout_ns =
        o->handshake_timeout_ns > 0 ? o->handshake_timeout_ns : 10 * 1000000000LL;
    s->lfd = s->ufd = -1;
    int rc = 0;
    if (!o->tcp && !o->udp) {
        sl_component_diag_opt(c, tcp_opt, d);
        rc = sl_diag_set(d, SL_ECONFIG, "%s '%s': nothing to listen on: set %s or %s", c->ops->type,
                         c->name, tcp_opt, udp_opt ? udp_opt : tcp_opt);
        goto fail;
    }
    if (o->tcp) {
        char host[256];
        uint16_t port;
        if (sl_net_split_hostport(o->tcp, host, sizeof(host), &port)) {
            sl_component_diag_opt(c, tcp_opt, d);
            sl_diag_hint(d, "write %s: \"127.0.0.1:9000\"", tcp_opt);
            rc = sl_diag_set(d, SL_ECONFIG, "%s '%s': invalid address \"%s\"", c->ops->type,
                             c->name, o->tcp);
            goto fail;
        }
        int fd = sl_net_listen_tcp(host, port, 512);
        if (fd < 0) {
            sl_component_diag_opt(c, tcp_opt, d);
            sl_diag_hint(d, "pick another port, or stop what listens there");
            rc = sl_diag_set(d, SL_ECONFIG, "%s '%s': cannot listen on %s: %s", c->ops->type,
                             c->name, o->tcp, sl_strerror(fd));
            goto fail;
        }
        s->lfd = fd;
        s->tcp_port = sl_net_local_port(fd);
    }
    if (o->tls_cert) {
        rc = tls_setup(s, o, d);
        if (rc) {
            sl_component_diag_opt(c, "tls", d);
            goto fail;
        }
    }
    if (o->udp) {
        int fd = -1; /* set by bind_udp when it succeeds: gcc -O3 cannot tell */
        rc = bind_udp(o->udp, o->udp_rcvbuf > 0 ? o->udp_rcvbuf : 8 << 20, &fd);
        if (rc) {
            sl_component_diag_opt(c, udp_opt, d);
            rc = sl_diag_set(d, SL_ECONFIG, "%s '%s': cannot bind UDP %s: %s", c->ops->type,
                             c->name, o->udp, sl_strerror(rc));
            goto fail;
        }
        s->ufd = fd;
        s->udp_port = sl_net_local_port(fd);
        size_t slot = s->max_frame + 1;
        s->ubuf = sl_xmalloc(slot * UDP_BATCH);
        s->umsg = sl_xcalloc(UDP_BATCH, sizeof(*s->umsg));
        s->uiov = sl_xcalloc(UDP_BATCH, sizeof(*s->uiov));
        s->uaddr = sl_xcalloc(UDP_BATCH, sizeof(*s->uaddr));
        s->uctl = sl_xcalloc(UDP_BATCH, sizeof(*s->uctl));
    }
    s->buf = sl_xmalloc(READ_LEN);
    *out = s;
    return 0;
fail:
    sl_netserver_free(s);
    return rc;
}

static void conn_free(struct sl_netconn *k)
{
    if (k->tls)
        gnutls_deinit(k->tls);
    if (k->fd >= 0 && !k->udp)
        close(k->fd);
    sl_netframer_fini(&k->fr);
    sl_free(k);
}

void sl_netserver_free(struct sl_netserver *s)
{
    if (!s)
        return;
    while (s->conns) {
        struct sl_netconn *k = s->conns;
        s->conns = k->next;
        conn_free(k);
    }
    if (s->udp)
        conn_free(s->udp);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->ufd >= 0)
        close(s->ufd);
    if (s->prio)
        gnutls_priority_deinit(s->prio);
    if (s->cred)
        gnutls_certificate_free_credentials(s->cred);
    sl_free(s->buf);
    sl_free(s->ubuf);
    sl_free(s->umsg);
    sl_free(s->uiov);
    sl_free(s->uaddr);
    sl_free(s->uctl);
    sl_free(s);
}

int sl_netserver_tcp_port(const struct sl_netserver *s)
{
    return s->tcp_port;
}

int sl_netserver_udp_port(const struct sl_netserver *s)
{
    return s->udp_port;
}

void sl_netserver_stats(const struct sl_netserver *s, struct sl_netserver_stats *out)
{
#define LD(f) atomic_load_explicit(&s->st.f, memory_order_relaxed)
    out->accepted = LD(accepted);
    out->open = LD(open);
    out->tls_failed = LD(tls_failed);
    out->frames = LD(frames);
    out->truncated = LD(truncated);
    out->udp_datagrams = LD(udp_datagrams);
    out->udp_dropped = LD(udp_dropped);
    out->timed_out = LD(timed_out);
    out->rejected = LD(rejected);
#undef LD
}

#define BUMP(s, f, n) atomic_fetch_add_explicit(&(s)->st.f, (n), memory_order_relaxed)

/* ---- framing (io/netframe.c) */

struct frame_ctx {
    struct sl_netserver *s;
    struct sl_netconn *k;
};

static int on_frame(void *arg, const char *p, size_t n, unsigned flags)
{
    struct frame_ctx *x = arg;
    BUMP(x->s, frames, 1);
    if (flags & SL_NETFRAME_TRUNCATED)
        BUMP(x->s, truncated, 1);
    return x->s->cb.frame(x->s->cb.arg, x->k, p, n, flags);
}

/* End of stream: a last line without newline counts; a half octet frame is reported. */
static void frame_eof(struct sl_netserver *s, struct sl_netconn *k)
{
    if (s->framing == SL_NETSERVER_STREAM)
        return;
    struct frame_ctx x = {s, k};
    size_t missing = sl_netframer_eof(&k->fr, on_frame, &x);
    if (missing)
        sl_warn(s->c->name,
                "%s: connection closed inside an octet-counted frame (%zu bytes missing)", k->peer,
                missing);
}

static int feed(struct sl_netserver *s, struct sl_netconn *k, const char *p, size_t n)
{
    if (s->framing == SL_NETSERVER_STREAM)
        return s->cb.data(s->cb.arg, k, p, n);
    struct frame_ctx x = {s, k};
    int rc = sl_netframer_feed(&k->fr, p, n, on_frame, &x);
    if (rc == SL_EPARSE)
        sl_warn(s->c->name, "%s: invalid octet count: closing", k->peer);
    return rc;
}

/* ---- connections */

static void conn_unlink(struct sl_netserver *s, struct sl_netconn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    s->nconns--;
    BUMP(s, open, (uint_fast64_t)-1);
}

static void conn_close(struct sl_netserver *s, struct sl_netconn *k, bool eof, bool opened)
{
    if (opened) {
        frame_eof(s, k);
        if (s->cb.close)
            s->cb.close(s->cb.arg, k, eof);
    }
    conn_unlink(s, k);
    conn_free(k);
}

static bool opened(const struct sl_netconn *k)
{
    return !k->handshaking;
}

/* The client's address bytes (IPv4-mapped IPv6 counts as IPv4: one client, one count). */
static void peer_addr(struct sl_netconn *k, const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        memcpy(k->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        k->addr_len = 4;
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            memcpy(k->addr, a->s6_addr + 12, 4);
            k->addr_len = 4;
        } else {
            memcpy(k->addr, a->s6_addr, 16);
            k->addr_len = 16;
        }
    }
}

/* Connections open from k's address. A scan of the open connections: they are at most
 * max_connections (1024 by default), and the compare is cheap next to the accept() and
 * close() of the connection it decides on; a map would cost more for the usual few
 * clients. */
static int64_t open_from(const struct sl_netserver *s, const struct sl_netconn *k)
{
    int64_t n = 0;
    for (const struct sl_netconn *o = s->conns; o; o = o->next)
        n += o->addr_len == k->addr_len && memcmp(o->addr, k->addr, k->addr_len) == 0;
    return n;
}

static void accept_all(struct sl_netserver *s, int ep)
{
    for (;;) {
        if (s->nconns >= s->max_connections) {
            if (!s->paused) {
                sl_warn(s->c->name, "max_connections (%lld) reached: not accepting for now",
                        (long long)s->max_connections);
                epoll_ctl(ep, EPOLL_CTL_DEL, s->lfd, NULL);
                s->paused = true;
            }
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the client stays in the backlog, so the
                 * level-triggered listener would wake the loop again at once and spin on
                 * accept(); stop watching it until the next idle tick (100 ms) */
                sl_log_ratelimited(&s->accept_log, 1, SL_LOG_WARN, s->c->name,
                                   "accept: %s: not accepting for 100 ms", strerror(errno));
                epoll_ctl(ep, EPOLL_CTL_DEL, s->lfd, NULL);
                s->paused = true;
            }
            return;
        }
        struct sl_netconn *k = sl_xcalloc(1, sizeof(*k));
        k->fd = fd;
        k->since_ns = sl_clock_mono_ns();
        sl_netframer_init(&k->fr, s->framing == SL_NETSERVER_STREAM ? SL_NETSERVER_LF : s->framing,
                          s->max_frame);
        format_peer(s, k, &ss);
        peer_addr(k, &ss);
        if (s->max_per_ip && k->addr_len && open_from(s, k) >= s->max_per_ip) {
            /* over the per-address limit: closed at once, before any TLS work */
            BUMP(s, rejected, 1);
            sl_log_ratelimited(&s->reject_log, 1, SL_LOG_WARN, s->c->name,
                               "%s: closed: max_per_ip (%lld) connections from this address "
                               "are open",
                               k->peer, (long long)s->max_per_ip);
            conn_free(k);
            continue;
        }
        if (s->tls) {
            int rc = gnutls_init(&k->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK);
            if (rc >= 0)
                rc = gnutls_priority_set(k->tls, s->prio);
            if (rc >= 0)
                rc = gnutls_credentials_set(k->tls, GNUTLS_CRD_CERTIFICATE, s->cred);
            if (rc < 0) {
                sl_warn(s->c->name, "%s: TLS session: %s", k->peer, gnutls_strerror(rc));
                conn_free(k);
                continue;
            }
            if (s->require_cert)
                gnutls_certificate_server_set_request(k->tls, GNUTLS_CERT_REQUIRE);
            gnutls_transport_set_int(k->tls, fd);
            k->handshaking = true;
        }
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        s->nconns++;
        BUMP(s, accepted, 1);
        BUMP(s, open, 1);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = k};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (!k->handshaking && s->cb.open)
            k->user = s->cb.open(s->cb.arg, k);
        sl_debug(s->c->name, "connection from %s (%lld open)", k->peer, (long long)s->nconns);
    }
}

/* Advance a TLS handshake. 1: done (opened), 0: in progress, -1: failed (close). */
static int handshake(struct sl_netserver *s, struct sl_netconn *k, int ep)
{
    int rc = gnutls_handshake(k->tls);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
        bool ww = gnutls_record_get_direction(k->tls) == 1;
        if (ww != k->want_write) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (ww ? EPOLLOUT : 0),
                                     .data.ptr = k};
            epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
            k->want_write = ww;
        }
        return 0;
    }
    if (rc < 0) {
        BUMP(s, tls_failed, 1);
        sl_warn(s->c->name, "%s: TLS handshake failed: %s", k->peer, gnutls_strerror(rc));
        return -1;
    }
    if (s->require_cert) {
        unsigned status = 0;
        rc = gnutls_certificate_verify_peers2(k->tls, &status);
        if (rc < 0 || status) {
            BUMP(s, tls_failed, 1);
            gnutls_datum_t out = {0};
            if (rc >= 0)
                gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
            sl_warn(s->c->name, "%s: client certificate refused: %s", k->peer,
                    rc < 0     ? gnutls_strerror(rc)
                    : out.data ? (char *)out.data
                               : "?");
            gnutls_free(out.data);
            return -1;
        }
    }
    if (k->want_write) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = k};
        epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
        k->want_write = false;
    }
    k->handshaking = false;
    if (s->cb.open)
        k->user = s->cb.open(s->cb.arg, k);
    sl_debug(s->c->name, "TLS connection from %s (%s)", k->peer,
             gnutls_cipher_suite_get_name(gnutls_kx_get(k->tls), gnutls_cipher_get(k->tls),
                                          gnutls_mac_get(k->tls)));
    return 1;
}

/* Read (bounded); 1: still open, 0: EOF, -1: error or callback refused. */
static int read_conn(struct sl_netserver *s, struct sl_netconn *k)
{
    for (int r = 0; r < READS_PER_RUN || (k->tls && gnutls_record_check_pending(k->tls)); r++) {
        ssize_t n;
        if (k->tls) {
            n = gnutls_record_recv(k->tls, s->buf, READ_LEN);
            if (n == GNUTLS_E_AGAIN)
                return 1;
            if (n == GNUTLS_E_INTERRUPTED)
                continue;
            if (n == GNUTLS_E_PREMATURE_TERMINATION)
                return 0;
            if (n < 0) {
                sl_warn(s->c->name, "%s: TLS: %s", k->peer, gnutls_strerror((int)n));
                return -1;
            }
        } else {
            n = read(k->fd, s->buf, READ_LEN);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return 1;
                sl_warn(s->c->name, "%s: read: %s", k->peer, strerror(errno));
                return -1;
            }
        }
        if (n == 0)
            return 0;
        if (feed(s, k, s->buf, (size_t)n))
            return -1;
        if (!k->tls && (size_t)n < READ_LEN)
            return 1;
    }
    return 1;
}

static void read_udp(struct sl_netserver *s)
{
    struct sl_netconn *k = s->udp;
    size_t slot = s->max_frame + 1;
    for (int round = 0; round < 16; round++) {
        for (unsigned i = 0; i < UDP_BATCH; i++) {
            s->uiov[i].iov_base = s->ubuf + i * slot;
            s->uiov[i].iov_len = slot;
            struct msghdr *h = &s->umsg[i].msg_hdr;
            memset(h, 0, sizeof(*h));
            h->msg_iov = &s->uiov[i];
            h->msg_iovlen = 1;
            h->msg_name = &s->uaddr[i];
            h->msg_namelen = sizeof(s->uaddr[i]);
            h->msg_control = s->uctl[i];
            h->msg_controllen = sizeof(s->uctl[i]);
        }
        int got = recvmmsg(s->ufd, s->umsg, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0)
            return;
        BUMP(s, udp_datagrams, (uint_fast64_t)got);
        for (int i = 0; i < got; i++) {
            struct msghdr *h = &s->umsg[i].msg_hdr;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR(h, cm)) {
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t drops;
                    memcpy(&drops, CMSG_DATA(cm), sizeof(drops));
                    atomic_store_explicit(&s->st.udp_dropped, drops, memory_order_relaxed);
                }
            }
            if (h->msg_namelen != s->last_peer_len ||
                memcmp(&s->uaddr[i], &s->last_peer, h->msg_namelen) != 0) {
                memcpy(&s->last_peer, &s->uaddr[i], h->msg_namelen);
                s->last_peer_len = h->msg_namelen;
                format_peer(s, k, &s->uaddr[i]);
            }
            size_t n = s->umsg[i].msg_len;
            unsigned fl = 0;
            if (n > s->max_frame || (h->msg_flags & MSG_TRUNC)) {
                n = s->max_frame;
                fl = SL_NETFRAME_TRUNCATED;
            }
            const char *p = s->ubuf + (size_t)i * slot;
            while (n && (p[n - 1] == '\n' || p[n - 1] == '\0'))
                n--;
            if (s->framing == SL_NETSERVER_STREAM) {
                s->cb.data(s->cb.arg, k, p, n);
                s->cb.data(s->cb.arg, k, "\n", 1);
            } else if (n) {
                BUMP(s, frames, 1);
                if (fl)
                    BUMP(s, truncated, 1);
                s->cb.frame(s->cb.arg, k, p, n, fl);
            }
        }
        if (got < (int)UDP_BATCH)
            return;
    }
}

static void idle_all(struct sl_netserver *s)
{
    if (!s->cb.idle)
        return;
    for (struct sl_netconn *k = s->conns; k; k = k->next)
        if (!k->handshaking)
            s->cb.idle(s->cb.arg, k);
    if (s->udp)
        s->cb.idle(s->cb.arg, s->udp);
    s->cb.idle(s->cb.arg, NULL);
}

int sl_netserver_run(struct sl_netserver *s)
{
    struct sl_component *c = s->c;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return SL_ESYS;
    int ltag, utag;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &ltag};
    if (s->lfd >= 0)
        epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &lev);
    if (s->ufd >= 0) {
        struct epoll_event uev = {.events = EPOLLIN, .data.ptr = &utag};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->ufd, &uev);
        s->udp = sl_xcalloc(1, sizeof(*s->udp));
        s->udp->fd = s->ufd;
        s->udp->udp = true;
        memcpy(s->udp->peer, "udp", 4);
        s->udp->peer_len = 3;
        s->udp->peer_gen = ++s->peer_gen;
        if (s->cb.open)
            s->udp->user = s->cb.open(s->cb.arg, s->udp);
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, sl_source_stop_fd(c), &sev);
    if (s->lfd >= 0)
        sl_info(c->name, "listening on TCP port %d%s", s->tcp_port, s->tls ? " (TLS)" : "");
    if (s->ufd >= 0)
        sl_info(c->name, "listening on UDP port %d", s->udp_port);
    s->last_idle_ns = sl_clock_mono_ns();
    while (!sl_source_stopping(c)) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, IDLE_MS);
        int64_t now = sl_clock_mono_ns();
        if (n <= 0 || now - s->last_idle_ns >= IDLE_MS * 1000000LL) {
            idle_all(s);
            s->last_idle_ns = now;
            /* a stalled TLS handshake, or a client silent past idle_timeout, gives its slot
             * back (max_connections would otherwise fill with them for good) */
            for (struct sl_netconn *k = s->conns, *next; k; k = next) {
                next = k->next;
                bool hs = k->handshaking && now - k->since_ns > s->handshake_timeout_ns;
                bool idle =
                    !k->handshaking && s->idle_timeout_ns && now - k->since_ns > s->idle_timeout_ns;
                if (!hs && !idle)
                    continue;
                sl_log_ratelimited(&s->accept_log, 2, SL_LOG_INFO, c->name, "%s: closed: %s",
                                   k->peer,
                                   hs ? "TLS handshake not done within handshake_timeout"
                                      : "nothing received within idle_timeout");
                BUMP(s, timed_out, 1);
                conn_close(s, k, true, opened(k));
            }
            if (s->paused && s->nconns < s->max_connections) {
                /* paused by a failed accept(): try again */
                epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &lev);
                s->paused = false;
            }
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (!tag)
                continue; /* stop fd: the loop condition sees it */
            if (tag == &ltag) {
                accept_all(s, ep);
                continue;
            }
            if (tag == &utag) {
                read_udp(s);
                continue;
            }
            struct sl_netconn *k = tag;
            k->since_ns = now;
            int st;
            if (k->handshaking) {
                st = handshake(s, k, ep);
                if (st == 1)
                    st = read_conn(s, k); /* data may have come with the last flight */
                else if (st == 0)
                    continue;
            } else {
                st = read_conn(s, k);
            }
            if (st <= 0) {
                conn_close(s, k, st == 0, opened(k));
                if (s->paused) {
                    epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &lev);
                    s->paused = false;
                }
            }
        }
    }
    /* stopping: take what the clients already sent, then hand everything over */
    if (s->lfd >= 0) {
        close(s->lfd);
        s->lfd = -1;
    }
    if (s->ufd >= 0)
        read_udp(s);
    while (s->conns) {
        struct sl_netconn *k = s->conns;
        int st = k->handshaking ? -1 : read_conn(s, k);
        conn_close(s, k, st == 0, opened(k));
    }
    if (s->udp) {
        if (s->cb.close)
            s->cb.close(s->cb.arg, s->udp, false);
        conn_free(s->udp);
        s->udp = NULL;
    }
    if (s->cb.idle)
        s->cb.idle(s->cb.arg, NULL);
    close(ep);
    sl_info(c->name, "stopped after %llu connections",
            (unsigned long long)atomic_load(&s->st.accepted));
    return 0;
}
