/*
 * amqp_conn.h — what the `amqp` source and sink share: the broker URL, connecting (TCP,
 * login, one channel), closing, reconnect back-off and error text (librabbitmq 0.11).
 *
 * Threads: none of this is shared; each component owns its connection and uses it on its
 * own thread only (librabbitmq connections are not thread-safe).
 */
#ifndef SL_IO_AMQP_CONN_H
#define SL_IO_AMQP_CONN_H

#include <amqp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed amqp://user:pass@host:port/vhost URL (the vhost percent-decoded: %2F is "/"). */
struct sl_amqp_url {
    char *host, *user, *password, *vhost;
    int port;
    char *shown; /* "amqp://user@host:port/vhost" for logs: no password */
};

/*
 * Parse `text` (amqp_parse_url: defaults guest/guest, localhost, 5672, vhost "/"; an empty
 * path is "/"). 0, or SL_EINVAL with a reason in err. amqps:// is refused (no TLS here).
 * The strings are the URL's own (sl_amqp_url_fini frees them).
 */
int sl_amqp_url_parse(const char *text, struct sl_amqp_url *u, char *err, size_t err_len);
void sl_amqp_url_fini(struct sl_amqp_url *u);

/*
 * Open a connection to u, log in and open channel 1. heartbeat_s: 0 = none. timeout_ns
 * bounds the TCP connect, the login and each later RPC (queue.declare, basic.qos...), so a
 * broker that accepts and then hangs cannot wedge the caller. Returns the connection, or
 * NULL with the reason in err.
 */
amqp_connection_state_t sl_amqp_connect(const struct sl_amqp_url *u, int heartbeat_s,
                                        int64_t timeout_ns, char *err, size_t err_len);
/* Close channel 1 and the connection politely (bounded by 1 s: the broker may be gone), then
 * free it. NULL is a no-op. */
void sl_amqp_disconnect(amqp_connection_state_t st);

/* Text of an RPC reply: "ok", a library error, or the broker's "404 NOT_FOUND - ...". */
void sl_amqp_reply_text(amqp_rpc_reply_t r, char *out, size_t out_len);
/* amqp_get_rpc_reply() of the last RPC on st: 0, or SL_EIO with its text in err. */
int sl_amqp_check_rpc(amqp_connection_state_t st, const char *what, char *err, size_t err_len);

/* Exponential back-off between reconnects: min, doubling up to max; reset after success. */
struct sl_amqp_backoff {
    int64_t min_ns, max_ns, next_ns;
};
void sl_amqp_backoff_init(struct sl_amqp_backoff *b, int64_t min_ns, int64_t max_ns);
/* The delay to wait now (and double the next one). */
int64_t sl_amqp_backoff_next(struct sl_amqp_backoff *b);
static inline void sl_amqp_backoff_reset(struct sl_amqp_backoff *b)
{
    b->next_ns = b->min_ns;
}

/* 64-bit FNV-1a of bytes (poison-message keys). */
uint64_t sl_amqp_hash(const void *p, size_t n, uint64_t seed);

#endif
