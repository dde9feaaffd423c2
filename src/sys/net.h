/*
 * net.h — socket helpers: listening and connecting TCP sockets, non-blocking mode.
 */
#ifndef SL_SYS_NET_H
#define SL_SYS_NET_H

#include <stdint.h>

/* Parse "host:port", "[v6]:port" or ":port" / "port" (host defaults to 127.0.0.1).
 * 0 or SL_EINVAL. host_out gets at least 64 bytes. */
int sl_net_split_hostport(const char *s, char *host_out, unsigned host_len, uint16_t *port);
/* Listening TCP socket, SO_REUSEADDR, non-blocking, close-on-exec. fd or negative errno.
 * Port 0 picks a free port: read it back with sl_net_local_port(). */
int sl_net_listen_tcp(const char *host, uint16_t port, int backlog);
int sl_net_local_port(int fd);
/* Blocking connect. fd or negative errno. */
int sl_net_connect_tcp(const char *host, uint16_t port);
int sl_net_set_nonblock(int fd, int on);

#endif
