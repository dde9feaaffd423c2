/*
 * in_tcp.c — the `tcp` source: newline-delimited JSON (or raw lines) from many clients.
 *
 * DESIGN: one epoll loop on the source thread; each connection has its own line reader
 * (io/linereader.c), so a line split across reads or interleaved with other clients is
 * reassembled per connection and dead letters name the peer and line. Back-pressure: when
 * the pipeline is full, sl_source_emit() blocks this loop, the kernel buffers fill and TCP
 * flow control stops the senders; nothing is read that cannot be kept. Every 100 ms of
 * quiet, partial batches are emitted so a slow sender is not delayed. At max_connections
 * the listener is paused until a client leaves. On stop: no new connections; what clients
 * already sent is read until they go quiet (bounded by one read per connection), flushed.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "core/component.h"
#include "io/linereader.h"
#include "sys/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_LEN (256u * 1024u)

struct tcp_conf {
    char *listen;
    int format;
    uint64_t max_line;
    int64_t max_connections;
    char *message_field;
};

struct conn {
    int fd;
    struct sl_linereader *r;
    struct conn *next, *prev;
};

struct tcp_state {
    int lfd;
    int port;
    struct conn *conns;
    int64_t nconns;
    uint64_t accepted;
    bool paused;
    char *buf;
};

static int tcp_init(struct sl_component *c, struct sl_diag *d)
{
    struct tcp_conf *cf = c->conf;
    char host[256];
    uint16_t port;
    if (sl_net_split_hostport(cf->listen, host, sizeof(host), &port)) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "write listen: \"127.0.0.1:9000\"");
        return sl_diag_set(d, SL_ECONFIG, "tcp '%s': invalid address \"%s\"", c->name, cf->listen);
    }
    int fd = sl_net_listen_tcp(host, port, 512);
    if (fd < 0) {
        sl_component_diag_opt(c, "listen", d);
        sl_diag_hint(d, "pick another port, or stop what listens there");
        return sl_diag_set(d, SL_ECONFIG, "tcp '%s': cannot listen on %s: %s", c->name, cf->listen,
                           sl_strerror(fd));
    }
    struct tcp_state *s = sl_xcalloc(1, sizeof(*s));
    s->lfd = fd;
    s->port = sl_net_local_port(fd);
    s->buf = sl_xmalloc(READ_LEN);
    c->state = s;
    return 0;
}

static void drop_conn(struct tcp_state *s, struct conn *k)
{
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    close(k->fd);
    sl_linereader_free(k->r);
    sl_free(k);
    s->nconns--;
}

static void tcp_fini(struct sl_component *c)
{
    struct tcp_state *s = c->state;
    if (!s)
        return;
    while (s->conns)
        drop_conn(s, s->conns);
    if (s->lfd >= 0)
        close(s->lfd);
    sl_free(s->buf);
    sl_free(s);
}

static void accept_all(struct sl_component *c, int ep)
{
    struct tcp_conf *cf = c->conf;
    struct tcp_state *s = c->state;
    for (;;) {
        if (s->nconns >= cf->max_connections) {
            if (!s->paused) {
                sl_warn(c->name, "max_connections (%lld) reached: not accepting for now",
                        (long long)cf->max_connections);
                epoll_ctl(ep, EPOLL_CTL_DEL, s->lfd, NULL);
                s->paused = true;
            }
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char host[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 16];
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
            port = ntohs(a->sin6_port);
        }
        snprintf(peer, sizeof(peer), "%s:%d", host, port);
        struct conn *k = sl_xcalloc(1, sizeof(*k));
        k->fd = fd;
        struct sl_linereader_opts o = {.format = cf->format ? SL_LINES_RAW : SL_LINES_JSON,
                                       .max_line = cf->max_line,
                                       .message_field = sl_sym_intern_c(cf->message_field),
                                       .where = peer};
        k->r = sl_linereader_new(c, &o);
        k->next = s->conns;
        if (s->conns)
            s->conns->prev = k;
        s->conns = k;
        s->nconns++;
        s->accepted++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = k};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        sl_debug(c->name, "connection from %s (%lld open)", peer, (long long)s->nconns);
    }
}

/* Read once (or until EAGAIN when draining); false when the connection is finished. */
static bool read_conn(struct sl_component *c, struct conn *k)
{
    struct tcp_state *s = c->state;
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(k->fd, s->buf, READ_LEN);
        if (n > 0) {
            if (sl_linereader_feed(k->r, s->buf, (size_t)n))
                return false;
            if ((size_t)n < READ_LEN)
                return true;
            continue;
        }
        if (n == 0) {
            sl_linereader_finish(k->r);
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return true;
        sl_warn(c->name, "read: %s", strerror(errno));
        sl_linereader_finish(k->r);
        return false;
    }
    return true;
}

static int tcp_run(struct sl_component *c)
{
    struct tcp_state *s = c->state;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &lev);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, sl_source_stop_fd(c), &sev);
    sl_info(c->name, "listening on port %d", s->port);
    while (!sl_source_stopping(c)) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 100);
        if (n <= 0) {
            for (struct conn *k = s->conns; k; k = k->next)
                sl_linereader_flush(k->r);
            continue;
        }
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (!tag)
                continue; /* stop fd: the loop condition sees it */
            if (tag == &s->lfd) {
                accept_all(c, ep);
                continue;
            }
            struct conn *k = tag;
            if (!read_conn(c, k)) {
                drop_conn(s, k);
                if (s->paused) {
                    epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &lev);
                    s->paused = false;
                }
            }
        }
    }
    /* stopping: take what the clients already sent, then hand everything over */
    close(s->lfd);
    s->lfd = -1;
    for (struct conn *k = s->conns; k;) {
        struct conn *next = k->next;
        bool open = read_conn(c, k);
        if (open)
            sl_linereader_finish(k->r);
        drop_conn(s, k);
        k = next;
    }
    close(ep);
    sl_info(c->name, "stopped after %llu connections", (unsigned long long)s->accepted);
    return 0;
}

static const struct sl_option tcp_opts[] = {
    {"listen", SL_OPT_STRING, NULL, offsetof(struct tcp_conf, listen),
     "address to listen on, \"host:port\"", NULL, 0, 0, SL_OPT_REQUIRED},
    {"format", SL_OPT_ENUM, "json", offsetof(struct tcp_conf, format),
     "json: one JSON object per line; lines: each line is a `message` string", "json|lines", 0, 0,
     0},
    {"max_line", SL_OPT_SIZE, "1MiB", offsetof(struct tcp_conf, max_line),
     "longer lines become dead letters", NULL, 0, 0, 0},
    {"max_connections", SL_OPT_INT, "1024", offsetof(struct tcp_conf, max_connections),
     "clients served at once; more wait in the listen backlog", NULL, 1, 1000000, 0},
    {"message_field", SL_OPT_STRING, "message", offsetof(struct tcp_conf, message_field),
     "field that holds a raw line (format: lines)", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_tcp_ops = {
    .type = "tcp",
    .kind = SL_KIND_SOURCE,
    .summary = "newline-delimited JSON or raw lines from many TCP clients",
    .options = tcp_opts,
    .conf_len = sizeof(struct tcp_conf),
    .init = tcp_init,
    .fini = tcp_fini,
    .run = tcp_run,
};
