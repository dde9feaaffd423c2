/*
 * out_syslog.c — the `syslog` sink: one syslog message per event over UDP, TCP or TLS
 * (dataShark's [out_syslog]; docs/components/syslog-sink.md).
 *
 * Message: a header (codec/syslog_fmt.h: RFC 5424, RFC 3164 or dataShark's bare `<PRI>`)
 * rendered once per batch and severity, then the body: dataShark's JSON document
 * (codec/dsdoc.h), the whole event as JSON, or one field's text. Too long: dead letter or
 * truncation (`oversize`).
 *
 * DESIGN — delivery over TCP/TLS without an application-level acknowledgement. Framed
 * messages are appended to a pending buffer and written to a non-blocking socket. A message
 * stays pending, and the delivery token of its batch held (core/ack.h: the hold sits on the
 * batch's last message), until
 *   1. the server's TCP acknowledged its last byte on the wire: the socket's unacknowledged
 *      byte count (SIOCOUTQ = write_seq - snd_una) against the bytes this connection wrote
 *      (for TLS, the ciphertext counted by our push function; a message counts as written
 *      once the TLS record holding its last byte was pushed), and
 *   2. the connection was still ESTABLISHED `confirm_delay` later, with nothing to read
 *      (a syslog server never talks back: readable means FIN, RST or a TLS alert; TLS 1.3
 *      session tickets are read and ignored).
 * Condition 2 is what makes a server restart lossless: a server that closes with bytes it
 * acknowledged but never read makes its kernel answer with RST, which we see within the
 * delay. On any failure the connection is dropped, and after the back-off every pending
 * message — acknowledged or not — is written again on the new one (at-least-once: the ones
 * the old server did read are duplicated). UDP writes datagrams (sendmmsg) and forgets them.
 *
 * Threads: the sink's thread only; stats() reads atomics.
 */
#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/dsdoc.h"
#include "codec/json.h"
#include "codec/syslog_fmt.h"
#include "core/component.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { T_UDP, T_TCP, T_TLS };
enum { B_DATASHARK, B_EVENT, B_FIELD, B_TEMPLATE };

struct sys_conf {
    char *host;
    int64_t port;
    int transport;
    int framing; /* 0 octet-counting, 1 lf */
    char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
    bool tls_verify;
    int64_t connect_timeout, retry_initial, retry_max, drain_timeout, confirm_delay;
    int format;
    char *facility, *severity, *severity_field, *app_name, *hostname, *procid, *msgid;
    int body;
    char *message_field;
    char *template;
    uint64_t max_message_size;
    int oversize; /* 0 error, 1 truncate */
    char *title, *pkey, *score, *key_field, *score_field, *metadata_field;
    int timestamp_source; /* 0 now, 1 event */
    char *timestamp_format;
    int timezone; /* 0 local, 1 utc */
};

#define O(f) offsetof(struct sys_conf, f)
static const struct sl_option sys_opts[] = {
    {"host", SL_OPT_STRING, "127.0.0.1", O(host), "syslog server (name or address)", NULL, 0, 0, 0},
    {"port", SL_OPT_INT, "0", O(port), "server port (0: 514, or 6514 with transport: tls)", NULL, 0,
     65535, 0},
    {"transport", SL_OPT_ENUM, "udp", O(transport), "udp (dataShark), tcp or tls", "udp|tcp|tls", 0,
     0, 0},
    {"framing", SL_OPT_ENUM, "octet-counting", O(framing),
     "TCP/TLS framing: RFC 6587 octet counting, or LF after each message", "octet-counting|lf", 0,
     0, 0},
    {"tls_ca", SL_OPT_STRING, NULL, O(tls_ca), "CA certificates (PEM); default: system CAs", NULL,
     0, 0, 0},
    {"tls_cert", SL_OPT_STRING, NULL, O(tls_cert), "client certificate (PEM)", NULL, 0, 0, 0},
    {"tls_key", SL_OPT_STRING, NULL, O(tls_key), "client key (PEM)", NULL, 0, 0, 0},
    {"tls_verify", SL_OPT_BOOL, "true", O(tls_verify), "verify the server's certificate and name",
     NULL, 0, 0, 0},
    {"tls_server_name", SL_OPT_STRING, NULL, O(tls_server_name),
     "name the server certificate must carry (and SNI); default: host", NULL, 0, 0, 0},
    {"connect_timeout", SL_OPT_DURATION, "5s", O(connect_timeout),
     "connecting and the TLS handshake at most", NULL, 0, 0, 0},
    {"retry_initial", SL_OPT_DURATION, "100ms", O(retry_initial),
     "back-off after the first failure (doubled, full jitter)", NULL, 0, 0, 0},
    {"retry_max", SL_OPT_DURATION, "30s", O(retry_max), "back-off cap", NULL, 0, 0, 0},
    {"drain_timeout", SL_OPT_DURATION, "30s", O(drain_timeout),
     "at shutdown, keep trying to deliver this long", NULL, 0, 0, 0},
    {"confirm_delay", SL_OPT_DURATION, "500ms", O(confirm_delay),
     "TCP/TLS: a message acknowledged by the server's TCP is delivered once "
     "the connection "
     "stayed healthy this long",
     NULL, 0, 0, 0},
    {"format", SL_OPT_ENUM, "rfc5424", O(format),
     "header: RFC 5424, RFC 3164, or bare <PRI> (dataShark)", "rfc5424|rfc3164|bare", 0, 0, 0},
    {"facility", SL_OPT_STRING, "13", O(facility), "0-23 or a name (dataShark: 13)", NULL, 0, 0, 0},
    {"severity", SL_OPT_STRING, "info", O(severity), "0-7 or a name", NULL, 0, 0, 0},
    {"severity_field", SL_OPT_STRING, NULL, O(severity_field),
     "field path giving each record's severity (0-7 or a name)", NULL, 0, 0, 0},
    {"app_name", SL_OPT_STRING, "sluice", O(app_name), "APP-NAME (5424) / TAG (3164)", NULL, 0, 0,
     0},
    {"hostname", SL_OPT_STRING, NULL, O(hostname), "HOSTNAME; default: this machine's name", NULL,
     0, 0, 0},
    {"procid", SL_OPT_STRING, NULL, O(procid), "PROCID; default: this process's id; - for none",
     NULL, 0, 0, 0},
    {"msgid", SL_OPT_STRING, "-", O(msgid), "MSGID (5424)", NULL, 0, 0, 0},
    {"body", SL_OPT_ENUM, "datashark", O(body),
     "datashark document, the whole event as JSON, one field's text, or a template",
     "datashark|event|field|template", 0, 0, 0},
    {"message_field", SL_OPT_STRING, "message", O(message_field), "with body: field", NULL, 0, 0,
     0},
    {"template", SL_OPT_STRING, NULL, O(template),
     "with body: template: text with %{field.path} replaced by the field's text (%% is %)", NULL, 0,
     0, 0},
    {"max_message_size", SL_OPT_SIZE, "64KiB", O(max_message_size),
     "largest message, header included (UDP: at most 65507)", NULL, 0, 0, 0},
    {"oversize", SL_OPT_ENUM, "error", O(oversize),
     "a longer message: dead letter, or cut (at a UTF-8 boundary)", "error|truncate", 0, 0, 0},
    {"title", SL_OPT_STRING, "Use Case Title", O(title), "datashark: the title value", NULL, 0, 0,
     0},
    {"pkey", SL_OPT_STRING, "source_ip", O(pkey), "datashark: the key's name", NULL, 0, 0, 0},
    {"score", SL_OPT_STRING, "anomaly_score", O(score), "datashark: the score's name", NULL, 0, 0,
     0},
    {"key_field", SL_OPT_STRING, "key", O(key_field), "field path of the record's key", NULL, 0, 0,
     0},
    {"score_field", SL_OPT_STRING, "score", O(score_field), "field path of the record's score",
     NULL, 0, 0, 0},
    {"metadata_field", SL_OPT_STRING, "metadata", O(metadata_field),
     "field path of the metadata map (absent: the other top-level fields)", NULL, 0, 0, 0},
    {"timestamp_source", SL_OPT_ENUM, "now", O(timestamp_source),
     "datashark timestamp: formatting time or event time", "now|event", 0, 0, 0},
    {"timestamp_format", SL_OPT_STRING, "%Y-%m-%d %H:%M:%S", O(timestamp_format),
     "strftime format of timestamp (%f: microseconds)", NULL, 0, 0, 0},
    {"timezone", SL_OPT_ENUM, "local", O(timezone), "of timestamp", "local|utc", 0, 0, 0},
    {0},
};
#undef O

#define PEND_MAX    ((size_t)64 << 20)
#define MSG_MAX_CAP ((size_t)16 << 20)
#define UDP_MAX     65507u
#define UDP_VEC     64
#define TLS_CHUNK   16384u

/* One message pending on a stream transport. */
struct ent {
    uint64_t end;      /* absolute stream offset just past its last byte */
    uint64_t wire_end; /* wire bytes of this connection when its last byte was written */
    int64_t acked_at;  /* mono ns when its end was first seen acknowledged; 0 not yet */
    struct sl_ack *hold;
};

struct sys_sink {
    struct sl_component *c;
    const struct sys_conf *cf;
    struct sl_dsdoc doc;
    struct sl_path sev_path, msg_path;
    struct tpl_seg *tpl;
    size_t ntpl;
    bool has_sev_path;
    struct sl_syslog_hdr hdr;
    char hostname[256], procid[32];
    char server_name[256];
    int severity;
    uint16_t port;
    size_t max_msg;

    /* per batch */
    struct sl_buf hdrs[8];
    struct sl_buf msg;
    struct sl_buf scratch;
    char why[128];

    /* connection */
    int fd;
    bool connected;
    gnutls_certificate_credentials_t cred;
    gnutls_session_t tls;
    uint64_t wire_total; /* bytes this connection wrote to the socket */
    size_t tls_inflight; /* size of a gnutls_record_send() that returned GNUTLS_E_AGAIN */
    uint32_t failures;
    int64_t next_connect_at;
    bool ever_connected;
    uint64_t rnd;

    /* stream pending data: pend.ptr[pend_head..] is absolute offset pend_base + pend_head.. */
    struct sl_buf pend;
    size_t pend_head;
    uint64_t pend_base;
    uint64_t sent_abs; /* absolute offset written on this connection */
    struct ent *ents;
    size_t ent_head, ent_count, ent_cap; /* live: [ent_head, ent_count) */
    size_t ent_sent;                     /* first entry not fully written */

    /* UDP */
    struct sl_buf dgrams;
    size_t *dg_off;
    size_t dg_count, dg_cap;

    int64_t stopping_since;
    struct sl_log_limit lim, elim;
    atomic_uint_fast64_t reconnects, resent, truncated, send_errors;
};

/* ------------------------------------------------------------------ connection */

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *data, size_t n)
{
    struct sys_sink *s = p;
    ssize_t r = send(s->fd, data, n, MSG_NOSIGNAL);
    if (r > 0)
        s->wire_total += (uint64_t)r;
    else if (r < 0)
        gnutls_transport_set_errno(s->tls, errno);
    return r;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *data, size_t n)
{
    struct sys_sink *s = p;
    ssize_t r = recv(s->fd, data, n, 0);
    if (r < 0)
        gnutls_transport_set_errno(s->tls, errno);
    return r;
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    struct sys_sink *s = p;
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    return poll(&pfd, 1, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)ms);
}

static void disconnect(struct sys_sink *s)
{
    if (s->tls) {
        if (s->connected) /* a clean close_notify; never waits (non-blocking) */
            gnutls_bye(s->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(s->tls);
        s->tls = NULL;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->connected = false;
    s->tls_inflight = 0;
}

static int64_t backoff_ns(struct sys_sink *s)
{
    int64_t init = s->cf->retry_initial, max = s->cf->retry_max > init ? s->cf->retry_max : init;
    int64_t cap = init;
    for (uint32_t i = 1; i < s->failures && cap < max; i++)
        cap *= 2;
    if (cap > max)
        cap = max;
    s->rnd ^= s->rnd << 13;
    s->rnd ^= s->rnd >> 7;
    s->rnd ^= s->rnd << 17;
    /* full jitter, but never below a tenth of the cap (no busy reconnect loop) */
    return cap / 10 + (int64_t)(s->rnd % (uint64_t)(cap - cap / 10 + 1));
}

static void broken(struct sys_sink *s, const char *what, int err)
{
    bool was = s->connected;
    disconnect(s);
    s->failures++;
    s->next_connect_at = sl_clock_mono_ns() + backoff_ns(s);
    sl_log_ratelimited(&s->lim, 1, SL_LOG_WARN, s->c->name, "%s %s:%u: %s%s; retrying in %lld ms",
                       what, s->cf->host, s->port, was ? "connection lost: " : "",
                       err ? sl_strerror(err) : "closed or reset by the server",
                       (long long)((s->next_connect_at - sl_clock_mono_ns()) / 1000000));
}

static int wait_fd(int fd, short events, int64_t deadline_mono)
{
    for (;;) {
        int64_t left = deadline_mono - sl_clock_mono_ns();
        if (left <= 0)
            return SL_ETIMEDOUT;
        struct pollfd pfd = {.fd = fd, .events = events};
        int r = poll(&pfd, 1, (int)(left / 1000000) + 1);
        if (r > 0)
            return (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) && !(pfd.revents & events)
                       ? SL_EIO
                       : 0;
        if (r < 0 && errno != EINTR)
            return -errno;
    }
}

static int open_socket(struct sys_sink *s, int64_t deadline)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", s->port);
    struct addrinfo hints = {.ai_socktype = s->cf->transport == T_UDP ? SOCK_DGRAM : SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(s->cf->host, port, &hints, &res);
    if (gai)
        return SL_ENOENT;
    int err = SL_EIO;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                rc = soerr ? -soerr : 0;
            }
        } else if (rc < 0) {
            rc = -errno;
        }
        if (rc == 0) {
            s->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        err = rc;
        close(fd);
    }
    freeaddrinfo(res);
    return err;
}

static int tls_start(struct sys_sink *s, int64_t deadline)
{
    int rc = gnutls_init(&s->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc < 0) {
        s->tls = NULL;
        return SL_ENOMEM;
    }
    gnutls_set_default_priority(s->tls);
    gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, s->cred);
    struct in6_addr a6;
    bool is_ip = inet_pton(AF_INET, s->server_name, &a6) == 1 ||
                 inet_pton(AF_INET6, s->server_name, &a6) == 1;
    if (!is_ip)
        gnutls_server_name_set(s->tls, GNUTLS_NAME_DNS, s->server_name, strlen(s->server_name));
    if (s->cf->tls_verify)
        gnutls_session_set_verify_cert(s->tls, s->server_name, 0);
    gnutls_transport_set_ptr(s->tls, s);
    gnutls_transport_set_push_function(s->tls, tls_push);
    gnutls_transport_set_pull_function(s->tls, tls_pull);
    gnutls_transport_set_pull_timeout_function(s->tls, tls_pull_timeout);
    for (;;) {
        rc = gnutls_handshake(s->tls);
        if (rc == GNUTLS_E_SUCCESS)
            return 0;
        if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED)
            break;
        int w = wait_fd(s->fd, gnutls_record_get_direction(s->tls) ? POLLOUT : POLLIN, deadline);
        if (w)
            return w;
    }
    if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        gnutls_datum_t out = {0};
        unsigned status = gnutls_session_get_verify_cert_status(s->tls);
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
            sl_log_ratelimited(&s->elim, 1, SL_LOG_ERROR, s->c->name,
                               "TLS: the server's certificate was not accepted: %s", out.data);
            gnutls_free(out.data);
        }
    } else {
        sl_log_ratelimited(&s->elim, 1, SL_LOG_ERROR, s->c->name, "TLS handshake: %s",
                           gnutls_strerror(rc));
    }
    return SL_EIO;
}

/* Connect when due. 0 connected, SL_EAGAIN not yet due, else the failure (already logged). */
static int ensure_connected(struct sys_sink *s)
{
    if (s->connected)
        return 0;
    int64_t now = sl_clock_mono_ns();
    if (now < s->next_connect_at)
        return SL_EAGAIN;
    int64_t deadline = now + s->cf->connect_timeout;
    s->wire_total = 0;
    int rc = open_socket(s, deadline);
    if (!rc && s->cf->transport == T_TLS)
        rc = tls_start(s, deadline);
    if (rc) {
        broken(s, "connecting to", rc);
        return rc;
    }
    if (s->cf->transport != T_UDP) {
        int one = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    s->connected = true;
    s->failures = 0;
    if (s->ever_connected) {
        atomic_fetch_add_explicit(&s->reconnects, 1, memory_order_relaxed);
        size_t again = s->ent_sent - s->ent_head;
        atomic_fetch_add_explicit(&s->resent, again, memory_order_relaxed);
        sl_info(s->c->name, "connected to %s:%u again; sending %zu unconfirmed messages again",
                s->cf->host, s->port, s->ent_count - s->ent_head);
    }
    s->ever_connected = true;
    /* everything not confirmed goes again on this connection */
    s->sent_abs = s->pend_base + s->pend_head;
    s->ent_sent = s->ent_head;
    for (size_t i = s->ent_head; i < s->ent_count; i++)
        s->ents[i].acked_at = 0;
    return 0;
}

/*
 * A stream connection whose server closed it (FIN, RST, a TLS close_notify or alert) or that
 * left ESTABLISHED is gone. A syslog server does not talk back, but a TLS 1.3 server sends
 * session tickets after the handshake: those are read (and ignored) here, as would be any
 * stray bytes.
 */
static bool stream_healthy(struct sys_sink *s)
{
    char junk[4096];
    for (int k = 0; k < 16; k++) {
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN | POLLRDHUP};
        int r = poll(&pfd, 1, 0);
        if (r == 0)
            break;
        if (r < 0 || (pfd.revents & (POLLRDHUP | POLLERR | POLLHUP | POLLNVAL)))
            return false;
        ssize_t n;
        if (s->tls) {
            n = gnutls_record_recv(s->tls, junk, sizeof(junk));
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
                continue; /* a handshake message (a ticket) was consumed */
        } else {
            n = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
        }
        if (n <= 0)
            return false;
    }
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != TCP_ESTABLISHED)
        return false;
    return true;
}

/* ------------------------------------------------------------------ stream pending data */

static void mark_written(struct sys_sink *s)
{
    while (s->ent_sent < s->ent_count && s->ents[s->ent_sent].end <= s->sent_abs)
        s->ents[s->ent_sent++].wire_end = s->wire_total;
}

/* Write what is pending without waiting. 0, or a connection failure (connection dropped). */
static int send_some(struct sys_sink *s)
{
    uint64_t end = s->pend_base + s->pend.len;
    while (s->connected && s->sent_abs < end) {
        const char *p = s->pend.ptr + (s->sent_abs - s->pend_base);
        size_t n = (size_t)(end - s->sent_abs);
        ssize_t r;
        if (s->tls) {
            /* after GNUTLS_E_AGAIN the record is encrypted and half pushed: GnuTLS wants the
             * same call again, so the size is kept even when more data arrived since */
            size_t want = s->tls_inflight ? s->tls_inflight : n > TLS_CHUNK ? TLS_CHUNK : n;
            r = gnutls_record_send(s->tls, p, want);
            if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                s->tls_inflight = want;
                if (wait_fd(s->fd, POLLOUT, sl_clock_mono_ns() + 50000000) == 0)
                    continue;
                return 0;
            }
            s->tls_inflight = 0;
            if (r < 0) {
                sl_log_ratelimited(&s->elim, 1, SL_LOG_WARN, s->c->name, "TLS send: %s",
                                   gnutls_strerror((int)r));
                broken(s, "sending to", SL_EIO);
                return SL_EIO;
            }
        } else {
            r = send(s->fd, p, n, MSG_NOSIGNAL);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (r < 0) {
                int e = -errno;
                broken(s, "sending to", e);
                return e;
            }
            s->wire_total += (uint64_t)r;
        }
        s->sent_abs += (uint64_t)r;
        atomic_fetch_add_explicit(&s->c->m.bytes_out, (uint64_t)r, memory_order_relaxed);
        mark_written(s);
    }
    return 0;
}

/* Drop confirmed bytes and entries from the front: when they are at least half (amortized
 * O(1) per byte), or always when `force` (the buffer needs the room). */
static void compact(struct sys_sink *s, bool force)
{
    if (s->pend_head && (force || s->pend_head == s->pend.len ||
                         (s->pend_head > ((size_t)1 << 20) && s->pend_head * 2 > s->pend.len))) {
        sl_buf_consume(&s->pend, s->pend_head);
        s->pend_base += s->pend_head;
        s->pend_head = 0;
    }
    if (s->ent_head && (s->ent_head == s->ent_count || s->ent_head * 2 > s->ent_count)) {
        memmove(s->ents, s->ents + s->ent_head, (s->ent_count - s->ent_head) * sizeof(*s->ents));
        s->ent_count -= s->ent_head;
        s->ent_sent -= s->ent_head;
        s->ent_head = 0;
    }
}

/* Release the messages whose delivery is confirmed (see DESIGN). */
static void check_acks(struct sys_sink *s)
{
    if (!s->connected || s->ent_head == s->ent_sent)
        return;
    if (!stream_healthy(s)) {
        broken(s, "sending to", 0);
        return;
    }
    int outq = 0;
    if (ioctl(s->fd, SIOCOUTQ, &outq) < 0)
        return;
    uint64_t acked = s->wire_total - (uint64_t)outq;
    int64_t now = sl_clock_mono_ns();
    size_t i = s->ent_head;
    while (i < s->ent_sent) {
        struct ent *e = &s->ents[i];
        if (e->wire_end > acked)
            break;
        if (!e->acked_at)
            e->acked_at = now;
        if (now - e->acked_at < s->cf->confirm_delay)
            break;
        if (e->hold)
            sl_ack_release(e->hold, true);
        e->hold = NULL;
        i++;
    }
    if (i > s->ent_head) {
        uint64_t end = s->ents[i - 1].end;
        s->pend_head = (size_t)(end - s->pend_base);
        s->ent_head = i;
        compact(s, false);
    }
    /* stamp the rest that are acknowledged (their delay runs from now) */
    for (; i < s->ent_sent && s->ents[i].wire_end <= acked; i++)
        if (!s->ents[i].acked_at)
            s->ents[i].acked_at = now;
}

/* One round of work: reconnect when due, write, confirm. */
static void service(struct sys_sink *s)
{
    if (s->ent_head == s->ent_count)
        return;
    if (ensure_connected(s))
        return;
    if (send_some(s))
        return;
    check_acks(s);
}

/* Wait a little for progress (socket writable, back-off over, the confirm delay). */
static void idle_wait(struct sys_sink *s)
{
    int64_t ms = 10;
    if (!s->connected) {
        int64_t left = (s->next_connect_at - sl_clock_mono_ns()) / 1000000;
        ms = left < 1 ? 1 : left > 100 ? 100 : left;
    }
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void fail_pending(struct sys_sink *s, const char *why)
{
    size_t n = s->ent_count - s->ent_head;
    if (!n)
        return;
    for (size_t i = s->ent_head; i < s->ent_count; i++)
        if (s->ents[i].hold)
            sl_ack_release(s->ents[i].hold, false);
    atomic_fetch_add_explicit(&s->c->m.errors, n, memory_order_relaxed);
    sl_error(s->c->name, "%zu messages to %s:%u not confirmed: %s", n, s->cf->host, s->port, why);
    s->pend_head = s->pend.len;
    s->sent_abs = s->pend_base + s->pend.len;
    s->ent_head = s->ent_sent = s->ent_count;
    compact(s, false);
}

/* While the pipeline stops, give up after drain_timeout. True: gave up. */
static bool stop_expired(struct sys_sink *s)
{
    if (!sl_source_stopping(s->c))
        return false;
    int64_t now = sl_clock_mono_ns();
    if (!s->stopping_since)
        s->stopping_since = now;
    return now - s->stopping_since >= s->cf->drain_timeout;
}

/* Make room for n more pending bytes (back-pressure while the server is away). */
static int make_room(struct sys_sink *s, size_t n)
{
    while (s->pend.len - s->pend_head + n > PEND_MAX && s->ent_head < s->ent_count) {
        service(s);
        compact(s, false);
        if (s->pend.len - s->pend_head + n <= PEND_MAX)
            break;
        if (stop_expired(s)) {
            fail_pending(s, "stopping, and drain_timeout passed");
            break;
        }
        idle_wait(s);
    }
    /* live bytes fit now; the confirmed ones before them may still take the room */
    compact(s, s->pend.len + n > PEND_MAX);
    return 0;
}

/* ------------------------------------------------------------------ formatting */

static int severity_of(struct sys_sink *s, const struct sl_event *ev)
{
    if (!s->has_sev_path)
        return s->severity;
    const struct sl_value *v = sl_path_get(&s->sev_path, ev);
    int sev;
    if (v && v->type == SL_V_INT && v->u.i >= 0 && v->u.i <= 7)
        return (int)v->u.i;
    if (v && v->type == SL_V_STRING &&
        sl_syslog_severity_parse(sl_str_make(v->u.s, v->len), &sev) == 0)
        return sev;
    return s->severity;
}

/* A piece of `template`: literal text, or a field (path set). */
struct tpl_seg {
    char *lit;
    size_t lit_len;
    struct sl_path path;
    bool field;
};

static void tpl_free(struct sys_sink *s)
{
    for (size_t i = 0; i < s->ntpl; i++) {
        sl_free(s->tpl[i].lit);
        if (s->tpl[i].field)
            sl_path_fini(&s->tpl[i].path);
    }
    sl_free(s->tpl);
    s->tpl = NULL;
    s->ntpl = 0;
}

/* Compile `template`. NULL, or what is wrong with it. */
static const char *tpl_compile(struct sys_sink *s, const char *t)
{
    struct sl_buf lit;
    sl_buf_init(&lit, (size_t)1 << 20);
    const char *err = NULL;
    for (const char *p = t;; p++) {
        bool end = !*p;
        bool field = !end && p[0] == '%' && p[1] == '{';
        if (!end && p[0] == '%' && p[1] == '%') {
            sl_buf_putc(&lit, '%');
            p++;
            continue;
        }
        if (!end && !field) {
            sl_buf_putc(&lit, *p);
            continue;
        }
        if (lit.len) {
            s->tpl = sl_xrealloc(s->tpl, (s->ntpl + 1) * sizeof(*s->tpl));
            struct tpl_seg *g = &s->tpl[s->ntpl++];
            memset(g, 0, sizeof(*g));
            g->lit_len = lit.len;
            g->lit = sl_buf_steal(&lit, NULL);
        }
        if (end)
            break;
        const char *close = strchr(p + 2, '}');
        if (!close || close == p + 2) {
            err = "a %{ without a field name and }";
            break;
        }
        char name[256];
        if ((size_t)(close - p - 2) >= sizeof(name)) {
            err = "a field name longer than 255 bytes";
            break;
        }
        memcpy(name, p + 2, (size_t)(close - p - 2));
        name[close - p - 2] = 0;
        s->tpl = sl_xrealloc(s->tpl, (s->ntpl + 1) * sizeof(*s->tpl));
        struct tpl_seg *g = &s->tpl[s->ntpl++];
        memset(g, 0, sizeof(*g));
        g->field = true;
        if (sl_path_init(&g->path, name)) {
            err = "a field path has at most 9 dot-separated parts";
            break;
        }
        p = close;
    }
    sl_buf_fini(&lit);
    return err;
}

static int tpl_render(struct sys_sink *s, const struct sl_event *ev)
{
    int rc = 0;
    for (size_t i = 0; i < s->ntpl && !rc; i++) {
        const struct tpl_seg *g = &s->tpl[i];
        if (!g->field) {
            rc = sl_buf_append(&s->msg, g->lit, g->lit_len);
            continue;
        }
        const struct sl_value *v = sl_path_get(&g->path, ev);
        if (!v || v->type == SL_V_NULL)
            continue;                 /* a missing field is empty text */
        if (v->type == SL_V_DOUBLE) { /* with a decimal point, as in the JSON bodies: 3.0 */
            rc = sl_json_write_value(&s->msg, v);
            continue;
        }
        struct sl_str t = sl_value_to_text(v, &s->scratch);
        rc = sl_buf_append(&s->msg, t.ptr, t.len);
    }
    return rc;
}

/* Render one message into s->msg. NULL, or why it cannot be sent. */
static const char *render(struct sys_sink *s, const struct sl_event *ev, int64_t now_wall)
{
    sl_buf_reset(&s->msg);
    int sev = severity_of(s, ev);
    struct sl_buf *h = &s->hdrs[sev];
    if (!h->len && sl_syslog_fmt_header(h, &s->hdr, sev, now_wall))
        return "cannot render the header";
    if (sl_buf_append(&s->msg, h->ptr, h->len))
        return "out of memory";
    int rc = 0;
    switch (s->cf->body) {
    case B_DATASHARK:
        rc = sl_dsdoc_write_json(&s->doc, ev, now_wall, &s->msg);
        break;
    case B_EVENT:
        rc = sl_json_write_event(&s->msg, ev);
        break;
    case B_TEMPLATE:
        rc = tpl_render(s, ev);
        break;
    default: {
        const struct sl_value *v = sl_path_get(&s->msg_path, ev);
        if (!v || v->type == SL_V_NULL)
            return "no message_field in the event";
        struct sl_str t = sl_value_to_text(v, &s->scratch);
        rc = sl_buf_append(&s->msg, t.ptr, t.len);
        break;
    }
    }
    if (rc == SL_E2BIG) {
        snprintf(s->why, sizeof(s->why), "message of more than %zu bytes exceeds max_message_size",
                 s->max_msg);
        return s->why;
    }
    if (rc)
        return "cannot render the message";
    if (s->msg.len > s->max_msg) {
        if (s->cf->oversize == 0) {
            snprintf(s->why, sizeof(s->why), "message of %zu bytes exceeds max_message_size (%zu)",
                     s->msg.len, s->max_msg);
            return s->why;
        }
        s->msg.len = sl_syslog_fmt_utf8_cut(s->msg.ptr, s->msg.len, s->max_msg);
        s->msg.ptr[s->msg.len] = 0;
        atomic_fetch_add_explicit(&s->truncated, 1, memory_order_relaxed);
    }
    return NULL;
}

static void dead_letter(struct sys_sink *s, struct sl_batch **errs, const struct sl_event *ev,
                        const char *why)
{
    if (!*errs)
        *errs = sl_batch_new();
    sl_error_event_for(*errs, s->c->name, why, ev);
    sl_log_ratelimited(&s->elim, 2, SL_LOG_WARN, s->c->name, "record not sent: %s", why);
}

/* ------------------------------------------------------------------ UDP */

static void udp_flush(struct sys_sink *s)
{
    size_t done = 0;
    while (done < s->dg_count) {
        if (ensure_connected(s)) {
            /* no route or name: the datagrams are lost (at-most-once) */
            atomic_fetch_add_explicit(&s->send_errors, s->dg_count - done, memory_order_relaxed);
            break;
        }
        struct mmsghdr mm[UDP_VEC];
        struct iovec iov[UDP_VEC];
        unsigned n = 0;
        for (; n < UDP_VEC && done + n < s->dg_count; n++) {
            size_t a = s->dg_off[done + n];
            size_t b = done + n + 1 < s->dg_count ? s->dg_off[done + n + 1] : s->dgrams.len;
            iov[n] = (struct iovec){s->dgrams.ptr + a, b - a};
            mm[n] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[n], .msg_iovlen = 1}};
        }
        int r = sendmmsg(s->fd, mm, n, MSG_NOSIGNAL);
        if (r > 0) {
            for (int i = 0; i < r; i++)
                atomic_fetch_add_explicit(&s->c->m.bytes_out, iov[i].iov_len, memory_order_relaxed);
            done += (size_t)r;
            continue;
        }
        int e = errno;
        if (e == EAGAIN || e == ENOBUFS) {
            wait_fd(s->fd, POLLOUT, sl_clock_mono_ns() + 1000000000);
            continue;
        }
        if (e == EINTR)
            continue;
        /* ICMP port unreachable from an earlier datagram, or the like: that one is lost;
         * this one was not sent and goes again once */
        atomic_fetch_add_explicit(&s->send_errors, 1, memory_order_relaxed);
        sl_log_ratelimited(&s->elim, 1, SL_LOG_WARN, s->c->name, "UDP send to %s:%u: %s",
                           s->cf->host, s->port, sl_strerror(-e));
        if (e != ECONNREFUSED)
            done++; /* skip the datagram the kernel refuses (EMSGSIZE...) */
    }
    sl_buf_reset(&s->dgrams);
    s->dg_count = 0;
}

/* ------------------------------------------------------------------ sink ops */

static int sys_write(struct sl_component *c, struct sl_batch *b)
{
    struct sys_sink *s = c->state;
    const struct sys_conf *cf = s->cf;
    if (!b->count)
        return 0;
    int64_t now_wall = sl_clock_wall_ns();
    for (int i = 0; i < 8; i++)
        sl_buf_reset(&s->hdrs[i]);
    struct sl_batch *errs = NULL;
    size_t queued = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        const struct sl_event *ev = &b->events[i];
        const char *why = render(s, ev, now_wall);
        if (why) {
            dead_letter(s, &errs, ev, why);
            continue;
        }
        if (cf->transport == T_UDP) {
            if (s->dg_count == s->dg_cap) {
                s->dg_cap = s->dg_cap ? s->dg_cap * 2 : 1024;
                s->dg_off = sl_xrealloc(s->dg_off, s->dg_cap * sizeof(*s->dg_off));
            }
            if (s->dgrams.len + s->msg.len > ((size_t)8 << 20))
                udp_flush(s);
            s->dg_off[s->dg_count] = s->dgrams.len;
            if (sl_buf_append(&s->dgrams, s->msg.ptr, s->msg.len)) {
                dead_letter(s, &errs, ev, "out of memory");
                continue;
            }
            s->dg_count++;
            continue;
        }
        make_room(s, s->msg.len + 24);
        if (sl_syslog_fmt_frame(&s->pend, cf->framing == 0, s->msg.ptr, s->msg.len)) {
            dead_letter(s, &errs, ev, "no room in the retransmit buffer");
            continue;
        }
        if (s->ent_count == s->ent_cap) {
            s->ent_cap = s->ent_cap ? s->ent_cap * 2 : 4096;
            s->ents = sl_xrealloc(s->ents, s->ent_cap * sizeof(*s->ents));
        }
        s->ents[s->ent_count++] =
            (struct ent){.end = s->pend_base + s->pend.len, .wire_end = UINT64_MAX};
        queued++;
    }
    if (cf->transport == T_UDP) {
        udp_flush(s);
    } else if (queued && s->ent_count > s->ent_head) {
        /* the batch's last message carries its hold: messages are confirmed in order */
        s->ents[s->ent_count - 1].hold = sl_sink_hold(b);
        service(s);
    }
    if (errs)
        sl_sink_emit_errors(c, errs);
    return 0;
}

static int sys_flush(struct sl_component *c)
{
    struct sys_sink *s = c->state;
    if (s->cf->transport == T_UDP)
        return 0;
    service(s);
    if (s->ent_head < s->ent_count && stop_expired(s))
        fail_pending(s, "stopping, and drain_timeout passed");
    return 0;
}

static void sys_finish(struct sl_component *c, struct sl_xf_ctx *x)
{
    (void)x;
    struct sys_sink *s = c->state;
    if (s->cf->transport == T_UDP)
        return;
    int64_t deadline = sl_clock_mono_ns() + s->cf->drain_timeout;
    while (s->ent_head < s->ent_count && sl_clock_mono_ns() < deadline) {
        service(s);
        if (s->ent_head < s->ent_count)
            idle_wait(s);
    }
    fail_pending(s, "drain_timeout passed at shutdown");
}

static size_t sys_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct sys_sink *s = c->state;
    if (!s)
        return 0;
    out[0] = (struct sl_comp_stat){"sluice_syslog_reconnects_total", "connections made again",
                                   false, (double)atomic_load(&s->reconnects)};
    out[1] = (struct sl_comp_stat){"sluice_syslog_resent_total",
                                   "messages written again after a reconnect", false,
                                   (double)atomic_load(&s->resent)};
    out[2] = (struct sl_comp_stat){"sluice_syslog_truncated_total", "messages cut", false,
                                   (double)atomic_load(&s->truncated)};
    out[3] = (struct sl_comp_stat){"sluice_syslog_send_errors_total",
                                   "datagrams the kernel refused or reported lost", false,
                                   (double)atomic_load(&s->send_errors)};
    return 4;
}

static void sys_fini(struct sl_component *c)
{
    struct sys_sink *s = c->state;
    if (!s)
        return;
    for (size_t i = s->ent_head; i < s->ent_count; i++)
        if (s->ents[i].hold)
            sl_ack_release(s->ents[i].hold, false);
    disconnect(s);
    if (s->cred)
        gnutls_certificate_free_credentials(s->cred);
    sl_dsdoc_fini(&s->doc);
    sl_path_fini(&s->sev_path);
    sl_path_fini(&s->msg_path);
    tpl_free(s);
    for (int i = 0; i < 8; i++)
        sl_buf_fini(&s->hdrs[i]);
    sl_buf_fini(&s->msg);
    sl_buf_fini(&s->scratch);
    sl_buf_fini(&s->pend);
    sl_buf_fini(&s->dgrams);
    sl_free(s->ents);
    sl_free(s->dg_off);
    sl_free(s);
    c->state = NULL;
}

static int opt_err(struct sl_component *c, struct sl_diag *d, const char *key, const char *hint,
                   const char *msg)
{
    sl_component_diag_opt(c, key, d);
    if (hint)
        sl_diag_hint(d, "%s", hint);
    return sl_diag_set(d, SL_ECONFIG, "syslog sink '%s': %s", c->name, msg);
}

static int load_tls(struct sl_component *c, struct sys_sink *s, struct sl_diag *d)
{
    const struct sys_conf *cf = s->cf;
    char msg[512];
    if (gnutls_certificate_allocate_credentials(&s->cred) < 0) {
        s->cred = NULL;
        return opt_err(c, d, "transport", NULL, "cannot allocate TLS credentials");
    }
    int rc = cf->tls_ca
                 ? gnutls_certificate_set_x509_trust_file(s->cred, cf->tls_ca, GNUTLS_X509_FMT_PEM)
                 : gnutls_certificate_set_x509_system_trust(s->cred);
    if (rc < 0 || (cf->tls_ca && rc == 0)) {
        snprintf(msg, sizeof(msg), "cannot load CA certificates from %s: %s",
                 cf->tls_ca ? cf->tls_ca : "the system store",
                 rc < 0 ? gnutls_strerror(rc) : "no certificate in the file");
        return opt_err(c, d, cf->tls_ca ? "tls_ca" : "transport", "a PEM file of CA certificates",
                       msg);
    }
    if (!cf->tls_cert != !cf->tls_key)
        return opt_err(c, d, cf->tls_cert ? "tls_key" : "tls_cert", NULL,
                       "tls_cert and tls_key go together");
    if (cf->tls_cert) {
        rc = gnutls_certificate_set_x509_key_file(s->cred, cf->tls_cert, cf->tls_key,
                                                  GNUTLS_X509_FMT_PEM);
        if (rc < 0) {
            snprintf(msg, sizeof(msg), "cannot load the client certificate %s / key %s: %s",
                     cf->tls_cert, cf->tls_key, gnutls_strerror(rc));
            return opt_err(c, d, "tls_cert", NULL, msg);
        }
    }
    return 0;
}

static int sys_init(struct sl_component *c, struct sl_diag *d)
{
    const struct sys_conf *cf = c->conf;
    struct sys_sink *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    s->c = c;
    s->cf = cf;
    s->fd = -1;
    s->rnd = (uint64_t)sl_clock_wall_ns() ^ (uint64_t)(uintptr_t)s ^ 0x9E3779B97F4A7C15ull;
    if (!s->rnd)
        s->rnd = 1;
    for (int i = 0; i < 8; i++)
        sl_buf_init(&s->hdrs[i], 4096);
    sl_buf_init(&s->scratch, MSG_MAX_CAP);
    sl_buf_init(&s->pend, PEND_MAX + MSG_MAX_CAP + 64);
    sl_buf_init(&s->dgrams, (size_t)16 << 20);
    char msg[512];
    int rc;

    s->port = (uint16_t)(cf->port ? cf->port : cf->transport == T_TLS ? 6514 : 514);
    if (!cf->host[0]) {
        rc = opt_err(c, d, "host", NULL, "host is empty");
        goto fail;
    }
    if ((rc = sl_syslog_facility_parse(sl_str_c(cf->facility), &s->hdr.facility)) != 0) {
        snprintf(msg, sizeof(msg), "unknown facility \"%s\"", cf->facility);
        rc = opt_err(c, d, "facility", "0-23, or kern user mail daemon auth syslog ... local0-7",
                     msg);
        goto fail;
    }
    if ((rc = sl_syslog_severity_parse(sl_str_c(cf->severity), &s->severity)) != 0) {
        snprintf(msg, sizeof(msg), "unknown severity \"%s\"", cf->severity);
        rc = opt_err(c, d, "severity", "0-7, or emerg alert crit err warning notice info debug",
                     msg);
        goto fail;
    }
    s->hdr.fmt = cf->format == 0   ? SL_SYSLOG_FMT_5424
                 : cf->format == 1 ? SL_SYSLOG_FMT_3164
                                   : SL_SYSLOG_FMT_BARE;
    if (cf->hostname) {
        snprintf(s->hostname, sizeof(s->hostname), "%s", cf->hostname);
    } else if (gethostname(s->hostname, sizeof(s->hostname)) != 0 || !s->hostname[0]) {
        snprintf(s->hostname, sizeof(s->hostname), "-");
    }
    s->hostname[sizeof(s->hostname) - 1] = 0;
    if (cf->procid)
        snprintf(s->procid, sizeof(s->procid), "%s", cf->procid);
    else
        snprintf(s->procid, sizeof(s->procid), "%ld", (long)getpid());
    s->hdr.hostname = s->hostname;
    s->hdr.procid = s->procid;
    s->hdr.app_name = cf->app_name;
    s->hdr.msgid = cf->msgid;
    struct {
        const char *key, *val;
        size_t max;
    } toks[] = {
        {"hostname", s->hostname, 255},
        {"app_name", cf->app_name, cf->format == 1 ? 32 : 48},
        {"procid", s->procid, 128},
        {"msgid", cf->msgid, 32},
    };
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        if (!sl_syslog_fmt_token_ok(toks[i].val, toks[i].max)) {
            snprintf(msg, sizeof(msg), "%s \"%s\" is not a syslog header token", toks[i].key,
                     toks[i].val);
            rc = opt_err(c, d, toks[i].key,
                         "printable ASCII without spaces (at most 255 bytes for "
                         "hostname, 48 for "
                         "app_name (32 with rfc3164), 128 for procid, 32 for msgid)",
                         msg);
            goto fail;
        }
    }
    s->max_msg = (size_t)cf->max_message_size;
    if (s->max_msg < 64 || s->max_msg > MSG_MAX_CAP) {
        rc = opt_err(c, d, "max_message_size", "between 64 bytes and 16MiB",
                     "max_message_size out of range");
        goto fail;
    }
    if (cf->transport == T_UDP && s->max_msg > UDP_MAX)
        s->max_msg = UDP_MAX;
    sl_buf_init(&s->msg, s->cf->oversize ? MSG_MAX_CAP : s->max_msg + 1);
    if (cf->retry_initial < 10000000) {
        rc = opt_err(c, d, "retry_initial", NULL, "retry_initial must be at least 10ms");
        goto fail;
    }
    if (cf->connect_timeout <= 0) {
        rc = opt_err(c, d, "connect_timeout", NULL, "connect_timeout must be positive");
        goto fail;
    }
    struct sl_dsdoc_conf dc = {
        .title = cf->title,
        .pkey = cf->pkey,
        .score = cf->score,
        .key_field = cf->key_field,
        .score_field = cf->score_field,
        .metadata_field = cf->metadata_field,
        .timestamp_format = cf->timestamp_format,
        .timestamp_event = cf->timestamp_source == 1,
        .utc = cf->timezone == 1,
    };
    if ((rc = sl_dsdoc_init(&s->doc, &dc)) != 0) {
        rc = opt_err(c, d, "key_field", "a field path has at most 9 dot-separated parts",
                     "bad key_field, score_field or metadata_field");
        goto fail;
    }
    if (cf->severity_field) {
        if (sl_path_init(&s->sev_path, cf->severity_field)) {
            rc = opt_err(c, d, "severity_field", NULL, "bad field path");
            goto fail;
        }
        s->has_sev_path = true;
    }
    if (cf->body == B_TEMPLATE || cf->template) {
        const char *why = cf->template ? tpl_compile(s, cf->template) : NULL;
        if (cf->body != B_TEMPLATE || !cf->template || why) {
            snprintf(msg, sizeof(msg), "%s",
                     !cf->template ? "body: template needs a template"
                     : why         ? why
                                   : "template is set but body is not template");
            rc = opt_err(c, d, cf->template ? "template" : "body",
                         "e.g. body: template, template: \"%{key} scored %{score}\"", msg);
            goto fail;
        }
    }
    if (sl_path_init(&s->msg_path, cf->message_field)) {
        rc = opt_err(c, d, "message_field", NULL, "bad field path");
        goto fail;
    }
    snprintf(s->server_name, sizeof(s->server_name), "%s",
             cf->tls_server_name ? cf->tls_server_name : cf->host);
    if (cf->transport == T_TLS && (rc = load_tls(c, s, d)) != 0)
        goto fail;
    return 0;
fail:
    sys_fini(c);
    return rc;
}

const struct sl_component_ops sl_out_syslog_ops = {
    .type = "syslog",
    .kind = SL_KIND_SINK,
    .summary = "send syslog messages (UDP/TCP/TLS, RFC 5424/3164; dataShark's "
               "JSON documents)",
    .options = sys_opts,
    .conf_len = sizeof(struct sys_conf),
    .init = sys_init,
    .fini = sys_fini,
    .write = sys_write,
    .flush = sys_flush,
    .finish = sys_finish,
    .stats = sys_stats,
    .flush_interval_ns = 250000000,
};
