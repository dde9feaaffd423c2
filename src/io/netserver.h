/*
 * netserver.h — the network side of line- and frame-oriented sources (tcp, syslog): a TCP
 * listener (optionally TLS through GnuTLS) and/or a UDP socket served by one epoll loop on
 * the source's thread.
 *
 * The server hands bytes to the source through callbacks:
 *   - SL_NETSERVER_STREAM: raw bytes per connection as they arrive (the source frames them
 *     itself, e.g. with io/linereader.h);
 *   - SL_NETSERVER_LF / OCTET / AUTO: whole messages. LF: lines (a trailing CR dropped, empty
 *     lines skipped). OCTET: RFC 6587 octet counting, "LEN SP MSG". AUTO decides per frame:
 *     a frame that starts with 1-9 digits and a space is octet-counted, anything else a line
 *     (so "<13>..." lines and "123 <13>..." frames mix on one connection, as rsyslog
 *     accepts). A message longer than max_frame is cut there and flagged
 *     SL_NETFRAME_TRUNCATED; the rest of it is skipped. UDP: one datagram is one message
 *     (a trailing LF dropped).
 * Frames are passed as views into the read buffer when they arrive whole, else assembled in
 * a per-connection carry buffer: the callback must copy what it keeps.
 *
 * Back-pressure: callbacks may block (sl_source_emit() while the pipeline is full); the loop
 * then reads nothing, the kernel buffers fill and TCP flow control stops the senders. UDP
 * datagrams that do not fit the socket buffer meanwhile are dropped by the kernel and counted
 * (SO_RXQ_OVFL: the kernel's per-socket drop counter, read with each batch of datagrams).
 * Quiet flush: idle() is called when nothing arrived for 100 ms and at least every 100 ms
 * under load, so partial batches leave. At max_connections the listener is paused until a
 * client leaves; a client address that already has max_per_ip connections open gets its next
 * one closed at once (counted as rejected, logged at most once a second); when accept() fails (out
 * of file descriptors) it is paused for 100 ms. Stop (sl_source_stopping): no new connections; what
 * clients already sent is read (one bounded pass per connection), close() is called for each, then
 * idle().
 *
 * Threads: everything runs on the thread that calls sl_netserver_run() (the source's);
 * sl_netserver_new() may run on another (init), the counters may be read from any.
 */
#ifndef SL_IO_NETSERVER_H
#define SL_IO_NETSERVER_H

#include "core/component.h"
#include "io/netframe.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sl_netconn; /* one TCP connection, or the UDP socket (peer = last datagram's source) */

/* "127.0.0.1:51234" / "[::1]:51234": the peer (for UDP: of the current datagram). *len gets
 * its length. Valid until the next callback for this connection. */
const char *sl_netconn_peer(const struct sl_netconn *k, size_t *len);
/* Changes whenever the peer text changes (a new connection, another UDP sender): a source
 * that copies the peer into batch memory copies it again only when this changes. */
uint64_t sl_netconn_peer_gen(const struct sl_netconn *k);
/* The source's pointer for this connection (returned by open()). */
void *sl_netconn_user(const struct sl_netconn *k);
bool sl_netconn_is_udp(const struct sl_netconn *k);

struct sl_netserver_cbs {
    void *arg;
    /* A new connection (TCP after the TLS handshake; the UDP socket once at start). Returns
     * the source's per-connection pointer (may be NULL). */
    void *(*open)(void *arg, struct sl_netconn *k);
    /* STREAM: bytes as read. Non-zero: close the connection (SL_ECLOSED: pipeline gone). */
    int (*data)(void *arg, struct sl_netconn *k, const char *p, size_t n);
    /* framed: one message without its framing; flags SL_NETFRAME_*. Non-zero: close. */
    int (*frame)(void *arg, struct sl_netconn *k, const char *p, size_t n, unsigned flags);
    /* The connection ends (EOF, error, stop); `eof`: the peer closed it cleanly. After this
     * k is gone. */
    void (*close)(void *arg, struct sl_netconn *k, bool eof);
    /* Quiet flush: per open connection (k) and then once with k == NULL. */
    void (*idle)(void *arg, struct sl_netconn *k);
};

struct sl_netserver_opts {
    const char *tcp; /* "host:port" to listen on, or NULL */
    const char *udp; /* "host:port" for datagrams, or NULL */
    /* TLS on the TCP listener when cert is set (PEM files) */
    const char *tls_cert, *tls_key, *tls_ca;
    bool tls_require_client_cert; /* needs tls_ca: clients without a cert it signed are refused */
    enum sl_netserver_framing framing;
    size_t max_frame;        /* 0: 64 KiB */
    int64_t max_connections; /* 0: 1024 */
    int64_t max_per_ip;      /* TCP connections open at once from one address; 0: no limit */
    int udp_rcvbuf;          /* SO_RCVBUF for UDP, 0: 8 MiB (the kernel caps it at rmem_max) */
    int64_t idle_timeout_ns; /* a TCP client that sends nothing this long is closed; 0: never */
    int64_t handshake_timeout_ns; /* TLS: a handshake not done in this time is dropped; 0: 10 s */
};

struct sl_netserver_stats {
    uint64_t accepted;      /* TCP connections */
    uint64_t open;          /* open now */
    uint64_t tls_failed;    /* handshakes or client certificates refused */
    uint64_t frames;        /* messages delivered (framed modes) */
    uint64_t truncated;     /* of which cut at max_frame */
    uint64_t udp_datagrams; /* received */
    uint64_t udp_dropped;   /* the kernel's count of datagrams dropped on the socket */
    uint64_t timed_out;     /* connections closed by idle_timeout or handshake_timeout */
    uint64_t rejected;      /* connections closed at once: max_per_ip from their address */
};

struct sl_netserver;

/*
 * Bind the sockets and load TLS credentials (so errors show at `sluice check` / start-up).
 * Errors: SL_ECONFIG with d set (bad address, port in use, unreadable cert), on c's option
 * (listen, udp, tls). c names log lines; cbs is copied.
 */
int sl_netserver_new(struct sl_component *c, const struct sl_netserver_opts *o,
                     const struct sl_netserver_cbs *cbs, const char *tcp_opt, const char *udp_opt,
                     struct sl_netserver **out, struct sl_diag *d);
/* Closes every connection without callbacks (run() already closed them). NULL: no-op. */
void sl_netserver_free(struct sl_netserver *s);
/* Serve until sl_source_stopping(c), then drain as described above. 0 or a negative code. */
int sl_netserver_run(struct sl_netserver *s);
/* The bound ports (0 when not listening): for port 0 in tests. */
int sl_netserver_tcp_port(const struct sl_netserver *s);
int sl_netserver_udp_port(const struct sl_netserver *s);
/* A snapshot; any thread (fields are relaxed atomics inside). */
void sl_netserver_stats(const struct sl_netserver *s, struct sl_netserver_stats *out);

#endif
