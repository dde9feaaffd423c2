/*
 * in_syslog.c — the `syslog` source: RFC 3164 / RFC 5424 messages over TCP (LF or RFC 6587
 * octet-counted framing), TLS and UDP, parsed into fields.
 *
 * DESIGN: io/netserver.c does the network side (framing, TLS, UDP, back-pressure, quiet
 * flush); every message it frames is copied once into the current batch's arena, parsed
 * there by codec/syslog.c (the fields are views into that copy, so nothing else is copied
 * except unescaped SD values) and becomes one event. All connections share one batch, so a
 * thousand clients sending a message each still make full batches. The event's field array
 * is allocated at its final size in one go instead of growing through sl_event_set (the
 * per-field scan and regrowth cost ~15% in bench_syslog). A message that does not parse is
 * still a normal event: the raw text in `message`, `parse_error: true` and the reason; it is
 * not a dead letter (syslog senders cannot resend, and a message is never lost for its form).
 * Field names are interned once at init.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "codec/syslog.h"
#include "core/component.h"
#include "io/netserver.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct syslog_conf {
    char *listen;
    char *udp;
    struct sl_strmap tls;
    int framing;
    int format;
    uint64_t max_message;
    int64_t max_connections;
    int64_t max_per_ip;
    int64_t year_future_days;
    char *timezone;
    bool keep_raw;
    uint64_t udp_buffer;
    int64_t idle_timeout_ns, handshake_timeout_ns;
};

enum {
    F_FACILITY,
    F_FACILITY_NAME,
    F_SEVERITY,
    F_SEVERITY_NAME,
    F_TIMESTAMP,
    F_HOST,
    F_APP,
    F_PROCID,
    F_MSGID,
    F_SD,
    F_MESSAGE,
    F_PEER,
    F_PARSE_ERROR,
    F_PARSE_ERROR_REASON,
    F_PARSE_ERROR_OFFSET,
    F_RAW,
    F__COUNT
};

static const char *const field_names[F__COUNT] = {"facility",
                                                  "facility_name",
                                                  "severity",
                                                  "severity_name",
                                                  "timestamp",
                                                  "host",
                                                  "app",
                                                  "procid",
                                                  "msgid",
                                                  "sd",
                                                  "message",
                                                  "peer",
                                                  "parse_error",
                                                  "parse_error_reason",
                                                  "parse_error_offset",
                                                  "raw"};

struct syslog_state {
    struct sl_netserver *srv;
    struct sl_syslog_opts popts;
    sl_sym sym[F__COUNT];
    struct sl_batch *batch;
    /* the peer text copied into the current batch (copied again when either changes) */
    struct sl_batch *peer_batch;
    uint64_t peer_gen;
    struct sl_value peer_val;
    struct sl_syslog_msg msg; /* 5 KiB: reused, only its header is cleared per message */
    uint64_t parse_errors;
    uint64_t udp_dropped_seen;
    int64_t now_ns;
    uint32_t clock_n;
    struct sl_log_limit oom_log;
    bool keep_raw;
};

static struct sl_value str_val(struct sl_str s)
{
    return sl_value_str(s.ptr, s.len);
}

static int emit_batch(struct sl_component *c, struct syslog_state *s)
{
    struct sl_batch *b = s->batch;
    s->batch = NULL;
    s->peer_batch = NULL;
    if (!b)
        return 0;
    if (!b->count) {
        sl_batch_unref(b);
        return 0;
    }
    return sl_source_emit(c, b);
}

/* The SD elements as a map of maps, in batch memory. NULL on OOM. */
static int sd_value(struct sl_batch *b, const struct sl_syslog_msg *m, struct sl_value *out)
{
    struct sl_kv *elems = sl_arena_alloc(&b->arena, m->sd_count * sizeof(*elems));
    struct sl_kv *params =
        m->param_count ? sl_arena_alloc(&b->arena, m->param_count * sizeof(*params)) : NULL;
    if (!elems || (m->param_count && !params))
        return SL_ENOMEM;
    for (uint32_t i = 0; i < m->sd_count; i++) {
        const struct sl_syslog_sd_elem *e = &m->sd[i];
        for (uint32_t j = 0; j < e->count; j++) {
            const struct sl_syslog_sd_param *pa = &m->params[e->first + j];
            struct sl_kv *kv = &params[e->first + j];
            kv->key = pa->name;
            if (pa->escaped) {
                char *u = sl_arena_alloc_bytes(&b->arena, pa->value.len ? pa->value.len : 1);
                if (!u)
                    return SL_ENOMEM;
                kv->val = sl_value_str(u, sl_syslog_sd_unescape(pa->value, u));
            } else {
                kv->val = str_val(pa->value);
            }
        }
        elems[i].key = e->id;
        elems[i].val = (struct sl_value){.type = SL_V_MAP, .len = e->count};
        elems[i].val.u.map = e->count ? &params[e->first] : NULL;
    }
    *out = (struct sl_value){.type = SL_V_MAP, .len = m->sd_count};
    out->u.map = elems;
    return 0;
}

/* An octet-counted frame the connection's end cut short: not trusted, like any parse error
 * (only the PRI fields kept, the raw text as the message). */
static void cut_short(struct sl_syslog_msg *m, const char *p, size_t n)
{
    m->has_ts = false;
    m->ts_ns = 0;
    m->ts_text = m->host = m->app = m->procid = m->msgid = m->sd_text = sl_str_make(NULL, 0);
    m->sd_count = m->param_count = 0;
    m->msg = sl_str_make(p, n);
    m->parse_error = true;
    m->error = "connection closed inside an octet-counted frame (truncated)";
    m->error_offset = (uint32_t)n;
}

static int syslog_frame(void *arg, struct sl_netconn *k, const char *p, size_t n, unsigned flags)
{
    struct sl_component *c = arg;
    struct syslog_state *s = c->state;
    /* a frame cut at max_frame is one byte over max_message: the parser reports it; one
     * cut short by the end of the connection is flagged here */
    if (!s->batch)
        s->batch = sl_batch_new();
    struct sl_batch *b = s->batch;
    /* arrival time: the clock read every 64 messages (clock_gettime was 2.3% of a
     * tcp -> file run in perf; arrival times stay within a read() or two) */
    if ((s->clock_n++ & 63) == 0)
        s->now_ns = sl_clock_wall_ns();
    int64_t now = s->now_ns;
    char *copy;
    struct sl_event *ev;
    struct sl_field *f;
    for (int attempt = 0;; attempt++) {
        copy = sl_batch_copy(b, p, n);
        ev = copy ? sl_batch_push(b) : NULL;
        f = ev ? sl_arena_alloc(&b->arena, F__COUNT * sizeof(*f)) : NULL;
        if (f)
            break;
        if (ev)
            sl_batch_pop(b);
        if (attempt == 0 && b->count) {
            /* the batch's arena is at its cap: hand it over and start a new one */
            if (emit_batch(c, s) == SL_ECLOSED)
                return SL_ECLOSED;
            b = s->batch = sl_batch_new();
            continue;
        }
        size_t plen;
        atomic_fetch_add_explicit(&c->m.errors, 1, memory_order_relaxed);
        sl_log_ratelimited(&s->oom_log, 2, SL_LOG_WARN, c->name,
                           "out of memory: a message from %s is lost", sl_netconn_peer(k, &plen));
        return 0;
    }
    struct sl_syslog_msg *m = &s->msg;
    s->popts.now_ns = now;
    sl_syslog_parse(copy, n, &s->popts, m);
    if ((flags & SL_NETFRAME_TRUNCATED) && n <= s->popts.max_len)
        cut_short(m, copy, n);
    if (s->peer_batch != b || s->peer_gen != sl_netconn_peer_gen(k)) {
        size_t plen;
        const char *peer = sl_netconn_peer(k, &plen);
        char *pc = sl_batch_copy(b, peer, plen);
        s->peer_val = pc ? sl_value_str(pc, plen) : sl_value_null();
        s->peer_batch = b;
        s->peer_gen = sl_netconn_peer_gen(k);
    }
    uint32_t nf = 0;
#define SET(id, v) (f[nf].sym = s->sym[id], f[nf]._pad = 0, f[nf].val = (v), nf++)
    if (m->facility >= 0) {
        SET(F_FACILITY, sl_value_int(m->facility));
        const char *fn = sl_syslog_facility_name(m->facility);
        SET(F_FACILITY_NAME, sl_value_str(fn, strlen(fn)));
        SET(F_SEVERITY, sl_value_int(m->severity));
        const char *sn = sl_syslog_severity_name(m->severity);
        SET(F_SEVERITY_NAME, sl_value_str(sn, strlen(sn)));
    }
    if (m->has_ts)
        SET(F_TIMESTAMP, sl_value_ts(m->ts_ns));
    if (m->host.len)
        SET(F_HOST, str_val(m->host));
    if (m->app.len)
        SET(F_APP, str_val(m->app));
    if (m->procid.len)
        SET(F_PROCID, str_val(m->procid));
    if (m->msgid.len)
        SET(F_MSGID, str_val(m->msgid));
    if (m->sd_count) {
        struct sl_value sd;
        if (sd_value(b, m, &sd) == 0)
            SET(F_SD, sd);
    }
    SET(F_MESSAGE, m->msg.len ? str_val(m->msg) : sl_value_str("", 0));
    SET(F_PEER, s->peer_val);
    if (m->parse_error) {
        s->parse_errors++;
        SET(F_PARSE_ERROR, sl_value_bool(true));
        SET(F_PARSE_ERROR_REASON, sl_value_str(m->error, strlen(m->error)));
        SET(F_PARSE_ERROR_OFFSET, sl_value_int(m->error_offset));
    }
    if (s->keep_raw)
        SET(F_RAW, sl_value_str(copy, n));
#undef SET
    ev->fields = f;
    ev->count = nf;
    ev->cap = F__COUNT;
    ev->ts_ns = m->has_ts ? m->ts_ns : now;
    b->bytes += n;
    if (sl_batch_full(b))
        return emit_batch(c, s) == SL_ECLOSED ? SL_ECLOSED : 0;
    return 0;
}

static void syslog_idle(void *arg, struct sl_netconn *k)
{
    struct sl_component *c = arg;
    struct syslog_state *s = c->state;
    if (k)
        return;
    s->clock_n = 0; /* read the clock again at the next message */
    struct sl_netserver_stats st;
    sl_netserver_stats(s->srv, &st);
    if (st.udp_dropped > s->udp_dropped_seen) {
        uint64_t d = st.udp_dropped - s->udp_dropped_seen;
        atomic_fetch_add_explicit(&c->m.dropped, d, memory_order_relaxed);
        sl_warn(c->name, "%llu UDP datagrams dropped by the kernel (socket buffer full)",
                (unsigned long long)d);
        s->udp_dropped_seen = st.udp_dropped;
    }
    emit_batch(c, s);
}

static int parse_tz(const char *t, int32_t *off)
{
    if (!t || !*t || strcmp(t, "UTC") == 0 || strcmp(t, "Z") == 0) {
        *off = 0;
        return 0;
    }
    if ((t[0] != '+' && t[0] != '-') || strlen(t) != 6 || t[3] != ':')
        return SL_EINVAL;
    for (int i = 1; i < 6; i++)
        if (i != 3 && (t[i] < '0' || t[i] > '9'))
            return SL_EINVAL;
    int h = (t[1] - '0') * 10 + (t[2] - '0'), mi = (t[4] - '0') * 10 + (t[5] - '0');
    if (h > 23 || mi > 59)
        return SL_EINVAL;
    *off = (h * 3600 + mi * 60) * (t[0] == '-' ? -1 : 1);
    return 0;
}

static int syslog_init(struct sl_component *c, struct sl_diag *d)
{
    struct syslog_conf *cf = c->conf;
    struct syslog_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    for (int i = 0; i < F__COUNT; i++)
        s->sym[i] = sl_sym_intern_c(field_names[i]);
    s->keep_raw = cf->keep_raw;
    s->popts.format = (enum sl_syslog_format)cf->format;
    s->popts.future_days = (int32_t)cf->year_future_days;
    s->popts.max_len = cf->max_message;
    if (cf->max_message < 16 || cf->max_message > (16u << 20)) {
        sl_component_diag_opt(c, "max_message", d);
        return sl_diag_set(d, SL_ECONFIG, "syslog '%s': max_message must be 16 B .. 16 MiB",
                           c->name);
    }
    if (parse_tz(cf->timezone, &s->popts.tz_offset_s)) {
        sl_component_diag_opt(c, "timezone", d);
        sl_diag_hint(d, "write timezone: UTC, or an offset such as \"+01:00\"");
        return sl_diag_set(d, SL_ECONFIG, "syslog '%s': invalid timezone \"%s\"", c->name,
                           cf->timezone);
    }
    struct sl_netserver_opts o = {.tcp = cf->listen,
                                  .udp = cf->udp,
                                  .framing = (enum sl_netserver_framing)cf->framing,
                                  .max_frame = cf->max_message + 1,
                                  .max_connections = cf->max_connections,
                                  .max_per_ip = cf->max_per_ip,
                                  .udp_rcvbuf =
                                      cf->udp_buffer > (1u << 30) ? (1 << 30) : (int)cf->udp_buffer,
                                  .idle_timeout_ns = cf->idle_timeout_ns,
                                  .handshake_timeout_ns = cf->handshake_timeout_ns};
    for (size_t i = 0; i < cf->tls.count; i++) {
        const char *key = cf->tls.items[i].key, *val = cf->tls.items[i].val;
        if (strcmp(key, "cert") == 0) {
            o.tls_cert = val;
        } else if (strcmp(key, "key") == 0) {
            o.tls_key = val;
        } else if (strcmp(key, "ca") == 0) {
            o.tls_ca = val;
        } else if (strcmp(key, "require_client_cert") == 0) {
            if (strcmp(val, "true") && strcmp(val, "false")) {
                sl_component_diag_opt(c, "tls", d);
                return sl_diag_set(d, SL_ECONFIG,
                                   "syslog '%s': tls.require_client_cert: true or false, not "
                                   "\"%s\"",
                                   c->name, val);
            }
            o.tls_require_client_cert = strcmp(val, "true") == 0;
        } else {
            sl_component_diag_opt(c, "tls", d);
            sl_diag_hint(d, "tls takes cert, key, ca, require_client_cert");
            return sl_diag_set(d, SL_ECONFIG, "syslog '%s': unknown tls option \"%s\"", c->name,
                               key);
        }
    }
    if (cf->tls.count && !o.tls_cert) {
        sl_component_diag_opt(c, "tls", d);
        return sl_diag_set(d, SL_ECONFIG, "syslog '%s': tls needs cert and key", c->name);
    }
    if (o.tls_cert && !cf->listen) {
        sl_component_diag_opt(c, "tls", d);
        return sl_diag_set(d, SL_ECONFIG, "syslog '%s': tls needs a TCP `listen` address", c->name);
    }
    struct sl_netserver_cbs cb = {.arg = c, .frame = syslog_frame, .idle = syslog_idle};
    return sl_netserver_new(c, &o, &cb, "listen", "udp", &s->srv, d);
}

static void syslog_fini(struct sl_component *c)
{
    struct syslog_state *s = c->state;
    if (!s)
        return;
    sl_batch_unref(s->batch);
    sl_netserver_free(s->srv);
    sl_free(s);
}

static int syslog_run(struct sl_component *c)
{
    struct syslog_state *s = c->state;
    int rc = sl_netserver_run(s->srv);
    emit_batch(c, s);
    struct sl_netserver_stats st;
    sl_netserver_stats(s->srv, &st);
    sl_info(c->name,
            "%llu messages (%llu not well-formed, %llu cut at max_message), %llu UDP "
            "datagrams, %llu dropped by the kernel",
            (unsigned long long)st.frames, (unsigned long long)s->parse_errors,
            (unsigned long long)st.truncated, (unsigned long long)st.udp_datagrams,
            (unsigned long long)st.udp_dropped);
    return rc;
}

static size_t syslog_stats(struct sl_component *c, struct sl_comp_stat *out)
{
    struct syslog_state *s = c->state;
    if (!s || !s->srv)
        return 0;
    struct sl_netserver_stats st;
    sl_netserver_stats(s->srv, &st);
    size_t n = 0;
#define STAT(nm, hp, g, v) out[n++] = (struct sl_comp_stat){nm, hp, g, (double)(v)}
    STAT("sluice_syslog_connections_total", "TCP connections accepted.", false, st.accepted);
    STAT("sluice_syslog_connections_open", "TCP connections open.", true, st.open);
    STAT("sluice_syslog_tls_failed_total", "TLS handshakes or client certificates refused.", false,
         st.tls_failed);
    STAT("sluice_syslog_messages_total", "Messages framed.", false, st.frames);
    STAT("sluice_syslog_truncated_total", "Messages cut at max_message.", false, st.truncated);
    STAT("sluice_syslog_udp_datagrams_total", "UDP datagrams received.", false, st.udp_datagrams);
    STAT("sluice_syslog_udp_dropped_total", "UDP datagrams the kernel dropped (buffer full).",
         false, st.udp_dropped);
    STAT("sluice_syslog_rejected_total", "TCP connections closed at once: max_per_ip reached.",
         false, st.rejected);
    STAT("sluice_syslog_timed_out_total",
         "TCP connections closed by idle_timeout or handshake_timeout.", false, st.timed_out);
#undef STAT
    return n;
}

static const struct sl_option syslog_opts[] = {
    {"listen", SL_OPT_STRING, NULL, offsetof(struct syslog_conf, listen),
     "TCP address to listen on, \"host:port\" (TLS when `tls` is set)", NULL, 0, 0, 0},
    {"udp", SL_OPT_STRING, NULL, offsetof(struct syslog_conf, udp),
     "UDP address to receive datagrams on, \"host:port\" (one datagram, one message)", NULL, 0, 0,
     0},
    {"tls", SL_OPT_STRING_MAP, NULL, offsetof(struct syslog_conf, tls),
     "TLS on the TCP listener: {cert, key (PEM files), ca, require_client_cert: true|false}", NULL,
     0, 0, 0},
    {"framing", SL_OPT_ENUM, "auto", offsetof(struct syslog_conf, framing),
     "TCP framing: auto (octet counting when a frame starts with digits and a space, else LF), "
     "lf, octet (RFC 6587)",
     "auto|lf|octet", 0, 0, 0},
    {"format", SL_OPT_ENUM, "auto", offsetof(struct syslog_conf, format),
     "auto (\"<PRI>1 \" is RFC 5424, anything else RFC 3164), rfc3164, rfc5424",
     "auto|rfc3164|rfc5424", 0, 0, 0},
    {"max_message", SL_OPT_SIZE, "64KiB", offsetof(struct syslog_conf, max_message),
     "longer messages are cut there and flagged parse_error", NULL, 0, 0, 0},
    {"max_connections", SL_OPT_INT, "1024", offsetof(struct syslog_conf, max_connections),
     "TCP clients served at once; more wait in the listen backlog", NULL, 1, 1000000, 0},
    {"max_per_ip", SL_OPT_INT, "0", offsetof(struct syslog_conf, max_per_ip),
     "TCP connections open at once from one client address; one more is closed at once and "
     "counted (0: no limit)",
     NULL, 0, 1000000, 0},
    {"idle_timeout", SL_OPT_DURATION, "0s", offsetof(struct syslog_conf, idle_timeout_ns),
     "a TCP client that sends nothing this long is closed (0s: never; senders reconnect)", NULL, 0,
     0, 0},
    {"handshake_timeout", SL_OPT_DURATION, "10s",
     offsetof(struct syslog_conf, handshake_timeout_ns),
     "TLS: a client whose handshake is not done in this time is dropped", NULL, 0, 0, 0},
    {"year_future_days", SL_OPT_INT, "7", offsetof(struct syslog_conf, year_future_days),
     "RFC 3164 dates have no year: one more than this many days ahead is last year's", NULL, 1, 180,
     0},
    {"timezone", SL_OPT_STRING, "UTC", offsetof(struct syslog_conf, timezone),
     "zone of RFC 3164 timestamps (they carry none): UTC or \"+hh:mm\" / \"-hh:mm\"", NULL, 0, 0,
     0},
    {"keep_raw", SL_OPT_BOOL, "false", offsetof(struct syslog_conf, keep_raw),
     "also keep the message as received in `raw`", NULL, 0, 0, 0},
    {"udp_buffer", SL_OPT_SIZE, "8MiB", offsetof(struct syslog_conf, udp_buffer),
     "UDP socket receive buffer (the kernel caps it at net.core.rmem_max)", NULL, 0, 0, 0},
    {0},
};

_Static_assert(sizeof(field_names) / sizeof(field_names[0]) == F__COUNT, "field names");

const struct sl_component_ops sl_in_syslog_ops = {
    .type = "syslog",
    .kind = SL_KIND_SOURCE,
    .summary = "RFC 3164 / RFC 5424 syslog over TCP (LF or octet-counted), TLS and UDP",
    .options = syslog_opts,
    .conf_len = sizeof(struct syslog_conf),
    .init = syslog_init,
    .fini = syslog_fini,
    .run = syslog_run,
    .stats = syslog_stats,
};
