/*
 * in_tcp.c — the `tcp` source: newline-delimited JSON (or raw lines) from many clients.
 *
 * DESIGN: the network side is io/netserver.c (epoll loop, max_connections, back-pressure,
 * quiet flush, orderly stop) in STREAM mode; this file gives each connection its own line
 * reader (io/linereader.c), so a line split across reads or interleaved with other clients
 * is reassembled per connection and dead letters name the peer and line. Back-pressure: when
 * the pipeline is full, sl_source_emit() blocks the loop, the kernel buffers fill and TCP
 * flow control stops the senders; nothing is read that cannot be kept. Every 100 ms partial
 * batches are emitted so a slow sender is not delayed. On stop: no new connections; what
 * clients already sent is read (one bounded pass per connection) and flushed.
 */
#include "base/alloc.h"
#include "base/log.h"
#include "core/component.h"
#include "io/linereader.h"
#include "io/netserver.h"

#include <stdio.h>
#include <string.h>

struct tcp_conf {
    char *listen;
    int format;
    uint64_t max_line;
    int64_t max_connections;
    int64_t max_per_ip;
    char *message_field;
    int64_t idle_timeout_ns;
};

struct tcp_state {
    struct sl_netserver *srv;
    sl_sym message_field;
};

static void *tcp_open(void *arg, struct sl_netconn *k)
{
    struct sl_component *c = arg;
    struct tcp_conf *cf = c->conf;
    struct tcp_state *s = c->state;
    size_t plen;
    const char *peer = sl_netconn_peer(k, &plen);
    struct sl_linereader_opts o = {.format = cf->format ? SL_LINES_RAW : SL_LINES_JSON,
                                   .max_line = cf->max_line,
                                   .message_field = s->message_field,
                                   .where = peer};
    return sl_linereader_new(c, &o);
}

static int tcp_data(void *arg, struct sl_netconn *k, const char *p, size_t n)
{
    (void)arg;
    return sl_linereader_feed(sl_netconn_user(k), p, n);
}

static void tcp_close(void *arg, struct sl_netconn *k, bool eof)
{
    (void)arg;
    (void)eof;
    struct sl_linereader *r = sl_netconn_user(k);
    sl_linereader_finish(r);
    sl_linereader_free(r);
}

static void tcp_idle(void *arg, struct sl_netconn *k)
{
    (void)arg;
    if (k)
        sl_linereader_flush(sl_netconn_user(k));
}

static int tcp_init(struct sl_component *c, struct sl_diag *d)
{
    struct tcp_conf *cf = c->conf;
    struct tcp_state *s = sl_xcalloc(1, sizeof(*s));
    s->message_field = sl_sym_intern_c(cf->message_field);
    c->state = s;
    struct sl_netserver_opts o = {.tcp = cf->listen,
                                  .framing = SL_NETSERVER_STREAM,
                                  .max_connections = cf->max_connections,
                                  .max_per_ip = cf->max_per_ip,
                                  .idle_timeout_ns = cf->idle_timeout_ns};
    struct sl_netserver_cbs cb = {
        .arg = c, .open = tcp_open, .data = tcp_data, .close = tcp_close, .idle = tcp_idle};
    return sl_netserver_new(c, &o, &cb, "listen", NULL, &s->srv, d);
}

static void tcp_fini(struct sl_component *c)
{
    struct tcp_state *s = c->state;
    if (!s)
        return;
    sl_netserver_free(s->srv);
    sl_free(s);
}

static int tcp_run(struct sl_component *c)
{
    struct tcp_state *s = c->state;
    return sl_netserver_run(s->srv);
}

static size_t tcp_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct tcp_state *s = c->state;
    if (!s || !s->srv)
        return 0;
    struct sl_netserver_stats st;
    sl_netserver_stats(s->srv, &st);
    size_t n = 0;
#define STAT(nm, hp, g, v) out[n++] = (struct sl_comp_stat){nm, hp, g, (double)(v)}
    STAT("sluice_tcp_connections_total", "TCP connections accepted.", false, st.accepted);
    STAT("sluice_tcp_connections_open", "TCP connections open.", true, st.open);
    STAT("sluice_tcp_rejected_total", "Connections closed at once: max_per_ip reached.", false,
         st.rejected);
    STAT("sluice_tcp_timed_out_total", "Connections closed by idle_timeout.", false, st.timed_out);
#undef STAT
    return n;
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
    {"max_per_ip", SL_OPT_INT, "0", offsetof(struct tcp_conf, max_per_ip),
     "connections open at once from one client address; one more is closed at once and counted "
     "(0: no limit)",
     NULL, 0, 1000000, 0},
    {"idle_timeout", SL_OPT_DURATION, "0s", offsetof(struct tcp_conf, idle_timeout_ns),
     "a client that sends nothing this long is closed (0s: never)", NULL, 0, 0, 0},
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
    .stats = tcp_stats,
};
