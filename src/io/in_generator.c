/*
 * in_generator.c — the `generator` source: synthetic network events shaped like Zeek's
 * conn, http and dns JSON logs, deterministic for a seed, at a given rate or full speed.
 *
 * DESIGN: field names are interned once at init; every string value is either static
 * (protocol names, methods, user agents) or written into the batch arena (addresses, uids,
 * URIs), so a batch allocates nothing per event. Rate limiting is a token bucket refilled
 * from the monotonic clock; batches are cut every ~20 ms of events at low rates so a slow
 * stream still flows smoothly instead of in 1,024-event bursts.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/str.h"
#include "core/component.h"

#include <poll.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

enum { T_CONN, T_HTTP, T_DNS, T__COUNT };
static const char *const type_names[T__COUNT] = {"conn", "http", "dns"};

struct gen_conf {
    struct sl_strlist types;
    int64_t seed;
    double rate;
    int64_t count;
    char *start_time;
};

enum {
    F_PATH,
    F_TS,
    F_UID,
    F_OH,
    F_OP,
    F_RH,
    F_RP,
    F_PROTO,
    F_SERVICE,
    F_DURATION,
    F_OB,
    F_RB,
    F_STATE,
    F_MISSED,
    F_HISTORY,
    F_OPK,
    F_OIB,
    F_RPK,
    F_RIB,
    F_TRANS_DEPTH,
    F_METHOD,
    F_HOST,
    F_URI,
    F_VERSION,
    F_UA,
    F_REQ_LEN,
    F_RESP_LEN,
    F_STATUS,
    F_STATUS_MSG,
    F_TRANS_ID,
    F_RTT,
    F_QUERY,
    F_QCLASS,
    F_QCLASS_NAME,
    F_QTYPE,
    F_QTYPE_NAME,
    F_RCODE,
    F_RCODE_NAME,
    F_AA,
    F_TC,
    F_RD,
    F_RA,
    F_ANSWERS,
    F_TTLS,
    F_REJECTED,
    F__COUNT
};
static const char *const field_names[F__COUNT] = {"_path",
                                                  "ts",
                                                  "uid",
                                                  "id.orig_h",
                                                  "id.orig_p",
                                                  "id.resp_h",
                                                  "id.resp_p",
                                                  "proto",
                                                  "service",
                                                  "duration",
                                                  "orig_bytes",
                                                  "resp_bytes",
                                                  "conn_state",
                                                  "missed_bytes",
                                                  "history",
                                                  "orig_pkts",
                                                  "orig_ip_bytes",
                                                  "resp_pkts",
                                                  "resp_ip_bytes",
                                                  "trans_depth",
                                                  "method",
                                                  "host",
                                                  "uri",
                                                  "version",
                                                  "user_agent",
                                                  "request_body_len",
                                                  "response_body_len",
                                                  "status_code",
                                                  "status_msg",
                                                  "trans_id",
                                                  "rtt",
                                                  "query",
                                                  "qclass",
                                                  "qclass_name",
                                                  "qtype",
                                                  "qtype_name",
                                                  "rcode",
                                                  "rcode_name",
                                                  "AA",
                                                  "TC",
                                                  "RD",
                                                  "RA",
                                                  "answers",
                                                  "TTLs",
                                                  "rejected"};

struct gen_state {
    sl_sym f[F__COUNT];
    int types[T__COUNT];
    int ntypes;
    uint64_t rng;
    double ts; /* seconds since the epoch, like Zeek's ts */
};

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static int gen_init(struct sl_component *c, struct sl_diag *d)
{
    struct gen_conf *cf = c->conf;
    struct gen_state *s = sl_xcalloc(1, sizeof(*s));
    c->state = s;
    for (int i = 0; i < F__COUNT; i++)
        s->f[i] = sl_sym_intern_c(field_names[i]);
    for (size_t i = 0; i < cf->types.count; i++) {
        int t = 0;
        while (t < T__COUNT && strcmp(cf->types.items[i], type_names[t]) != 0)
            t++;
        if (t == T__COUNT) {
            sl_component_diag_opt(c, "types", d);
            sl_diag_hint(d, "types are conn, http and dns");
            return sl_diag_set(d, SL_ECONFIG, "generator '%s': unknown type '%s'", c->name,
                               cf->types.items[i]);
        }
        s->types[s->ntypes++] = t;
    }
    if (!s->ntypes) {
        for (int t = 0; t < T__COUNT; t++)
            s->types[s->ntypes++] = t;
    }
    if (cf->rate < 0 || cf->count < 0) {
        sl_component_diag_opt(c, cf->rate < 0 ? "rate" : "count", d);
        return sl_diag_set(d, SL_ECONFIG, "generator '%s': rate and count must be >= 0", c->name);
    }
    s->rng = (uint64_t)cf->seed * 0x9E3779B97F4A7C15ull + 1;
    int64_t start = sl_clock_wall_ns();
    if (cf->start_time && cf->start_time[0]) {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(cf->start_time, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end || (*end && *end != 'Z')) {
            sl_component_diag_opt(c, "start_time", d);
            sl_diag_hint(d, "RFC 3339 UTC, e.g. 2020-04-30T00:00:00Z");
            return sl_diag_set(d, SL_ECONFIG, "generator '%s': bad start_time", c->name);
        }
        start = (int64_t)timegm(&tm) * 1000000000;
    }
    s->ts = (double)start / 1e9;
    return 0;
}

static void gen_fini(struct sl_component *c)
{
    sl_free(c->state);
}

static const char *pick(uint64_t *r, const char *const *a, size_t n)
{
    return a[rnd(r) % n];
}
#define PICK(r, a) pick(r, a, sizeof(a) / sizeof((a)[0]))

static struct sl_value sv(const char *s)
{
    return sl_value_str(s, strlen(s));
}

/* Print into the batch arena and return the view. */
static struct sl_value fmt(struct sl_batch *b, const char *f, ...)
    __attribute__((format(printf, 2, 3)));
static struct sl_value fmt(struct sl_batch *b, const char *f, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(tmp, sizeof(tmp), f, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1;
    char *p = sl_batch_copy(b, tmp, (size_t)n);
    return p ? sl_value_str(p, (size_t)n) : sl_value_null();
}

static const char *const servers_int[] = {"10.0.0.4",  "10.0.0.5",    "10.0.1.10",
                                          "10.0.2.20", "192.168.0.4", "192.168.0.53"};
static const char *const servers_ext[] = {"93.184.216.34", "151.101.1.69",   "13.107.42.14",
                                          "142.250.72.14", "104.16.132.229", "52.84.150.11"};
static const char *const hosts[] = {"www.example.com",      "intranet.corp.local",
                                    "update.microsoft.com", "cdn.jsdelivr.net",
                                    "api.github.com",       "wpad.corp.local"};
static const char *const uris[] = {"/",
                                   "/index.html",
                                   "/api/v1/login",
                                   "/static/app.js",
                                   "/wp-admin/admin-ajax.php",
                                   "/favicon.ico",
                                   "/search?q=test"};
static const char *const agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "curl/7.88.1", "Microsoft-WebDAV-MiniRedir/10.0.18362", "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"};
static const char *const queries[] = {"newyork.corp.local", "wpad.corp.local",
                                      "www.example.com",    "login.microsoftonline.com",
                                      "time.windows.com",   "a1b2c3d4e5.badcdn.xyz"};

static void add(struct sl_batch *b, struct sl_event *ev, sl_sym s, struct sl_value v)
{
    ev->fields[ev->count].sym = s;
    ev->fields[ev->count]._pad = 0;
    ev->fields[ev->count].val = v;
    ev->count++;
}

static int make_event(struct gen_state *s, struct sl_batch *b)
{
    uint64_t *r = &s->rng;
    struct sl_event *ev = sl_batch_push(b);
    if (!ev)
        return SL_ENOMEM;
    ev->fields = sl_arena_alloc(&b->arena, 32 * sizeof(struct sl_field));
    if (!ev->fields) {
        sl_batch_pop(b);
        return SL_ENOMEM;
    }
    ev->cap = 32;
    int t = s->types[rnd(r) % (uint64_t)s->ntypes];
    s->ts += (double)(rnd(r) % 2000) / 1e6;
    ev->ts_ns = (int64_t)(s->ts * 1e9);
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    char uid[18];
    uid[0] = 'C';
    for (int i = 1; i < 18; i++)
        uid[i] = b62[rnd(r) % 62];
    uint64_t x = rnd(r);
    bool ext = x % 4 == 0;
    const char *resp = ext ? PICK(r, servers_ext) : PICK(r, servers_int);
    add(b, ev, s->f[F_PATH], sv(type_names[t]));
    add(b, ev, s->f[F_TS], sl_value_double(s->ts));
    char *u = sl_batch_copy(b, uid, 18);
    add(b, ev, s->f[F_UID], u ? sl_value_str(u, 18) : sl_value_null());
    add(b, ev, s->f[F_OH],
        x % 3 ? fmt(b, "10.0.%u.%u", (unsigned)(x >> 8) % 4, 2 + (unsigned)(x >> 16) % 250)
              : fmt(b, "192.168.1.%u", 2 + (unsigned)(x >> 16) % 250));
    add(b, ev, s->f[F_OP], sl_value_int(49152 + (int64_t)((x >> 24) % 16384)));
    add(b, ev, s->f[F_RH], sv(resp));
    if (t == T_CONN) {
        static const int64_t ports[] = {443, 80, 53, 22, 445, 3389, 88, 389, 135, 8080};
        static const char *const svc[] = {"ssl", "http", "dns",  "ssh",     "smb",
                                          "-",   "krb",  "ldap", "dce_rpc", "http"};
        static const char *const states[] = {"SF", "SF", "SF", "S0", "REJ", "RSTO", "SH", "OTH"};
        static const char *const hist[] = {"ShADadfF", "ShADadFf", "Dd", "S", "ShADadR", "Sr"};
        unsigned k = (unsigned)(rnd(r) % 10);
        uint64_t y = rnd(r);
        add(b, ev, s->f[F_RP], sl_value_int(ports[k]));
        add(b, ev, s->f[F_PROTO], sv(k == 2 ? "udp" : "tcp"));
        add(b, ev, s->f[F_SERVICE], sv(svc[k]));
        add(b, ev, s->f[F_DURATION], sl_value_double((double)(y % 20000000) / 1e6));
        int64_t ob = (int64_t)(y >> 8) % 50000, rb = (int64_t)(y >> 24) % 500000;
        add(b, ev, s->f[F_OB], sl_value_int(ob));
        add(b, ev, s->f[F_RB], sl_value_int(rb));
        add(b, ev, s->f[F_STATE], sv(PICK(r, states)));
        add(b, ev, s->f[F_MISSED], sl_value_int(0));
        add(b, ev, s->f[F_HISTORY], sv(k == 2 ? "Dd" : PICK(r, hist)));
        int64_t op = 1 + ob / 1000, rp = 1 + rb / 1400;
        add(b, ev, s->f[F_OPK], sl_value_int(op));
        add(b, ev, s->f[F_OIB], sl_value_int(ob + op * 40));
        add(b, ev, s->f[F_RPK], sl_value_int(rp));
        add(b, ev, s->f[F_RIB], sl_value_int(rb + rp * 40));
    } else if (t == T_HTTP) {
        static const char *const methods[] = {"GET",     "GET", "GET", "POST",
                                              "OPTIONS", "PUT", "HEAD"};
        static const int64_t codes[] = {200, 200, 200, 200, 304, 301, 404, 403, 401, 500, 502, 503};
        static const char *const msgs[] = {"OK",           "OK",
                                           "OK",           "OK",
                                           "Not Modified", "Moved Permanently",
                                           "Not Found",    "Forbidden",
                                           "Unauthorized", "Internal Server Error",
                                           "Bad Gateway",  "Service Unavailable"};
        unsigned k = (unsigned)(rnd(r) % 12);
        uint64_t y = rnd(r);
        add(b, ev, s->f[F_RP], sl_value_int(y % 5 ? 80 : 8080));
        add(b, ev, s->f[F_TRANS_DEPTH], sl_value_int(1 + (int64_t)(y >> 8) % 3));
        add(b, ev, s->f[F_METHOD], sv(PICK(r, methods)));
        add(b, ev, s->f[F_HOST], sv(PICK(r, hosts)));
        add(b, ev, s->f[F_URI], sv(PICK(r, uris)));
        add(b, ev, s->f[F_VERSION], sv("1.1"));
        add(b, ev, s->f[F_UA], sv(PICK(r, agents)));
        add(b, ev, s->f[F_REQ_LEN], sl_value_int((int64_t)(y >> 16) % 2048));
        add(b, ev, s->f[F_RESP_LEN], sl_value_int((int64_t)(y >> 28) % 100000));
        add(b, ev, s->f[F_STATUS], sl_value_int(codes[k]));
        add(b, ev, s->f[F_STATUS_MSG], sv(msgs[k]));
    } else {
        static const char *const qtypes[] = {"A", "A", "AAAA", "PTR", "SRV", "TXT"};
        static const int64_t qtype_ids[] = {1, 1, 28, 12, 33, 16};
        uint64_t y = rnd(r);
        unsigned k = (unsigned)(y % 6);
        bool nx = (y >> 8) % 10 == 0;
        add(b, ev, s->f[F_RP], sl_value_int(53));
        add(b, ev, s->f[F_PROTO], sv("udp"));
        add(b, ev, s->f[F_TRANS_ID], sl_value_int((int64_t)(y >> 16) % 65536));
        add(b, ev, s->f[F_RTT], sl_value_double((double)((y >> 32) % 5000) / 1e6));
        add(b, ev, s->f[F_QUERY], sv(PICK(r, queries)));
        add(b, ev, s->f[F_QCLASS], sl_value_int(1));
        add(b, ev, s->f[F_QCLASS_NAME], sv("C_INTERNET"));
        add(b, ev, s->f[F_QTYPE], sl_value_int(qtype_ids[k]));
        add(b, ev, s->f[F_QTYPE_NAME], sv(qtypes[k]));
        add(b, ev, s->f[F_RCODE], sl_value_int(nx ? 3 : 0));
        add(b, ev, s->f[F_RCODE_NAME], sv(nx ? "NXDOMAIN" : "NOERROR"));
        add(b, ev, s->f[F_AA], sl_value_bool(!nx));
        add(b, ev, s->f[F_TC], sl_value_bool(false));
        add(b, ev, s->f[F_RD], sl_value_bool(true));
        add(b, ev, s->f[F_RA], sl_value_bool(!nx));
        if (!nx) {
            struct sl_value *ans = sl_arena_alloc(&b->arena, 2 * sizeof(struct sl_value));
            if (ans) {
                ans[0] = fmt(b, "10.0.%u.%u", (unsigned)(y >> 40) % 4, (unsigned)(y >> 48) % 250);
                ans[1] = sl_value_double((double)(60 * (1 + (y >> 50) % 60)));
                struct sl_value l = {.type = SL_V_LIST, .len = 1};
                l.u.list = &ans[0];
                add(b, ev, s->f[F_ANSWERS], l);
                struct sl_value tl = {.type = SL_V_LIST, .len = 1};
                tl.u.list = &ans[1];
                add(b, ev, s->f[F_TTLS], tl);
            }
        }
        add(b, ev, s->f[F_REJECTED], sl_value_bool(false));
    }
    b->bytes += 300; /* about what the event weighs as JSON */
    return 0;
}

static int gen_run(struct sl_component *c)
{
    struct gen_conf *cf = c->conf;
    struct gen_state *s = c->state;
    int64_t left = cf->count ? cf->count : INT64_MAX;
    double tokens = 0;
    int64_t last = sl_clock_mono_ns();
    /* at low rates cut batches every ~20 ms of events */
    uint32_t per_batch = SL_BATCH_EVENTS;
    if (cf->rate > 0 && cf->rate / 50 < per_batch)
        per_batch = cf->rate / 50 >= 1 ? (uint32_t)(cf->rate / 50) : 1;
    while (left > 0 && !sl_source_stopping(c)) {
        uint32_t n = per_batch;
        if ((int64_t)n > left)
            n = (uint32_t)left;
        if (cf->rate > 0) {
            for (;;) {
                int64_t now = sl_clock_mono_ns();
                tokens += (double)(now - last) / 1e9 * cf->rate;
                last = now;
                if (tokens > cf->rate)
                    tokens = cf->rate; /* at most a second of burst */
                if (tokens >= n)
                    break;
                int wait_ms = (int)((n - tokens) / cf->rate * 1000) + 1;
                struct pollfd pfd = {.fd = sl_source_stop_fd(c), .events = POLLIN};
                poll(&pfd, 1, wait_ms > 100 ? 100 : wait_ms);
                if (sl_source_stopping(c))
                    return 0;
            }
            tokens -= n;
        }
        struct sl_batch *b = sl_batch_new();
        for (uint32_t i = 0; i < n; i++)
            if (make_event(s, b))
                break;
        left -= b->count;
        if (sl_source_emit(c, b))
            return 0;
    }
    return 0;
}

static const struct sl_option gen_opts[] = {
    {"types", SL_OPT_STRING_LIST, NULL, offsetof(struct gen_conf, types),
     "event types to mix: conn, http, dns (default all three)", NULL, 0, 0, 0},
    {"seed", SL_OPT_INT, "1", offsetof(struct gen_conf, seed),
     "random seed (same seed, same events)", NULL, 0, 0, 0},
    {"rate", SL_OPT_DOUBLE, "0", offsetof(struct gen_conf, rate),
     "events per second (0: full speed)", NULL, 0, 0, 0},
    {"count", SL_OPT_INT, "0", offsetof(struct gen_conf, count),
     "stop after this many events (0: never)", NULL, 0, 0, 0},
    {"start_time", SL_OPT_STRING, "", offsetof(struct gen_conf, start_time),
     "event time of the first event, RFC 3339 UTC (default: now)", NULL, 0, 0, 0},
    {0},
};

const struct sl_component_ops sl_in_generator_ops = {
    .type = "generator",
    .kind = SL_KIND_SOURCE,
    .summary = "synthetic Zeek-shaped network events (conn, http, dns), seeded, rate-limited",
    .options = gen_opts,
    .conf_len = sizeof(struct gen_conf),
    .init = gen_init,
    .fini = gen_fini,
    .run = gen_run,
};
