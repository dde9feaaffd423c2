/*
 * in_generator.c — the `generator` source: synthetic network events shaped like Zeek's
 * conn, http and dns JSON logs, deterministic for a seed, at a given rate or full speed.
 *
 * DESIGN: a small model of a network, not random strings. A seeded pool of internal clients
 * (10.0.x.x and 192.168.1.x, a few of them much chattier than the rest) talks to internal
 * servers (a domain controller that is also the DNS server, a file server, an intranet web
 * server) and to external sites; each conn event follows a service profile (port, protocol,
 * Zeek service name, byte sizes) and a connection state whose history, durations, packet and
 * IP byte counts agree with it (an S0 has one SYN and no byte counts, a REJ a SYN and a RST).
 * http events name a site and its address; dns events resolve those names (A, AAAA, PTR,
 * SRV, TXT) with answers and TTLs, or NXDOMAIN, including a few random DGA-like names.
 * Fields a Zeek log leaves unset are absent, as in Zeek's JSON.
 *
 * Speed: field names are interned once at init. Strings are static or copied into the batch
 * arena (client addresses from a pool formatted at init, uids drawn 17 base62 digits from two
 * 64-bit random numbers); nothing is allocated per event outside the batch and there is no
 * printf on the path. The random generator is xorshift64*. Event time advances by a random
 * gap (mean 1/rate, or 0.5 ms at full speed) in whole microseconds, like Zeek's `ts`.
 *
 * Rate: a token bucket refilled from the monotonic clock, checked per batch; at low rates a
 * batch is cut every ~20 ms worth of events (rate/50, at least 1), so 10 events/s arrive as
 * one event every 100 ms rather than a burst every 100 s.
 */
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "core/component.h"

#include <poll.h>
#include <string.h>
#include <time.h>

enum { T_CONN, T_HTTP, T_DNS, T__COUNT };
static const struct sl_str type_names[T__COUNT] = {{"conn", 4}, {"http", 4}, {"dns", 3}};

struct gen_conf {
    struct sl_strlist types;
    int64_t seed;
    double rate;
    int64_t count;
    char *start_time;
};

#define GEN_FIELDS(X)                                                                              \
    X(PATH, "_path")                                                                               \
    X(TS, "ts")                                                                                    \
    X(UID, "uid")                                                                                  \
    X(OH, "id.orig_h")                                                                             \
    X(OP, "id.orig_p")                                                                             \
    X(RH, "id.resp_h")                                                                             \
    X(RP, "id.resp_p")                                                                             \
    X(PROTO, "proto")                                                                              \
    X(SERVICE, "service")                                                                          \
    X(DURATION, "duration")                                                                        \
    X(OB, "orig_bytes")                                                                            \
    X(RB, "resp_bytes")                                                                            \
    X(STATE, "conn_state")                                                                         \
    X(MISSED, "missed_bytes")                                                                      \
    X(HISTORY, "history")                                                                          \
    X(OPK, "orig_pkts")                                                                            \
    X(OIB, "orig_ip_bytes")                                                                        \
    X(RPK, "resp_pkts")                                                                            \
    X(RIB, "resp_ip_bytes")                                                                        \
    X(TRANS_DEPTH, "trans_depth")                                                                  \
    X(METHOD, "method")                                                                            \
    X(HOST, "host")                                                                                \
    X(URI, "uri")                                                                                  \
    X(REFERRER, "referrer")                                                                        \
    X(VERSION, "version")                                                                          \
    X(UA, "user_agent")                                                                            \
    X(REQ_LEN, "request_body_len")                                                                 \
    X(RESP_LEN, "response_body_len")                                                               \
    X(STATUS, "status_code")                                                                       \
    X(STATUS_MSG, "status_msg")                                                                    \
    X(TAGS, "tags")                                                                                \
    X(RESP_MIME, "resp_mime_types")                                                                \
    X(TRANS_ID, "trans_id")                                                                        \
    X(RTT, "rtt")                                                                                  \
    X(QUERY, "query")                                                                              \
    X(QCLASS, "qclass")                                                                            \
    X(QCLASS_NAME, "qclass_name")                                                                  \
    X(QTYPE, "qtype")                                                                              \
    X(QTYPE_NAME, "qtype_name")                                                                    \
    X(RCODE, "rcode")                                                                              \
    X(RCODE_NAME, "rcode_name")                                                                    \
    X(AA, "AA")                                                                                    \
    X(TC, "TC")                                                                                    \
    X(RD, "RD")                                                                                    \
    X(RA, "RA")                                                                                    \
    X(Z, "Z")                                                                                      \
    X(ANSWERS, "answers")                                                                          \
    X(TTLS, "TTLs")                                                                                \
    X(REJECTED, "rejected")

enum {
#define GEN_F_ENUM(id, name) F_##id,
    GEN_FIELDS(GEN_F_ENUM)
#undef GEN_F_ENUM
        F__COUNT
};
static const char *const field_names[F__COUNT] = {
#define GEN_F_NAME(id, name) name,
    GEN_FIELDS(GEN_F_NAME)
#undef GEN_F_NAME
};

/* most fields an event of each type gets (conn, http, dns) */
static const uint32_t max_fields[T__COUNT] = {19, 20, 25};
#define MAX_TYPES 16

#define NCLIENTS 256

struct client {
    char ip[16];
    uint8_t len;
};

struct gen_state {
    sl_sym f[F__COUNT];
    int types[MAX_TYPES]; /* the mix: a type listed twice comes twice as often */
    int ntypes;
    uint32_t profile_weights;
    uint64_t rng;
    int64_t ts_us;  /* event time of the next event, µs since the epoch */
    int64_t gap_us; /* mean gap between events */
    struct client clients[NCLIENTS];
};

/* ---- random numbers */

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64* (Vigna): fast, good enough for synthetic data, never 0 when seeded != 0 */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) (n small: the modulo bias is negligible). */
static uint32_t below(uint64_t *r, uint32_t n)
{
    return (uint32_t)(((rnd(r) >> 32) * n) >> 32);
}

/* ---- the network model (static tables: values point here, no copy needed) */

#define S(lit)                                                                                     \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }

/* the domain controller: DNS, Kerberos, LDAP, SMB (sysvol), RPC */
static const struct sl_str dc_ip = S("10.0.0.4");
static const struct sl_str file_servers[] = {S("10.0.0.5"), S("192.168.0.5")};
/* intranet servers and a few external ones (ssh, rdp, ntp, ...) */
static const struct sl_str other_servers[] = {S("10.0.1.10"),   S("10.0.2.20"),
                                              S("192.168.0.4"), S("52.84.150.11"),
                                              S("20.42.65.92"), S("185.199.108.153")};

struct site {
    struct sl_str host;
    struct sl_str ip;
    struct sl_str ip6;
    bool internal;
};
static const struct site sites[] = {
    {S("www.example.com"), S("93.184.216.34"), S("2606:2800:220:1:248:1893:25c8:1946"), false},
    {S("update.microsoft.com"), S("13.107.4.50"), S("2620:1ec:4::50"), false},
    {S("ocsp.digicert.com"), S("72.21.91.29"), S("2606:2800:133:206e:1315:22a5:2006:24fd"), false},
    {S("api.github.com"), S("140.82.112.6"), {NULL, 0}, false},
    {S("cdn.jsdelivr.net"), S("151.101.1.229"), S("2a04:4e42::485"), false},
    {S("www.google.com"), S("142.250.72.14"), S("2607:f8b0:4005:80f::2004"), false},
    {S("login.microsoftonline.com"), S("20.190.151.7"), S("2603:1026:3000:c0::4"), false},
    {S("intranet.corp.local"), S("10.0.1.10"), {NULL, 0}, true},
    {S("wiki.corp.local"), S("192.168.0.4"), {NULL, 0}, true},
    {S("files.corp.local"), S("10.0.0.5"), {NULL, 0}, true},
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

static const struct sl_str internal_names[] = {S("dc01.corp.local"), S("wpad.corp.local"),
                                               S("_ldap._tcp.dc._msdcs.corp.local"),
                                               S("time.windows.com"), S("isatap.corp.local")};

static const struct sl_str uris[] = {S("/"),
                                     S("/index.html"),
                                     S("/api/v1/login"),
                                     S("/api/v1/users?limit=50"),
                                     S("/static/js/app.3f9c2.js"),
                                     S("/static/css/site.css"),
                                     S("/wp-admin/admin-ajax.php"),
                                     S("/favicon.ico"),
                                     S("/search?q=quarterly+report"),
                                     S("/msdownload/update/v3/static/trustedr/en/authrootstl.cab"),
                                     S("/MFEwTzBNMEswSTAJBgUrDgMCGgUABBQ50otx"),
                                     S("/images/logo.png"),
                                     S("/webdav/")};
static const struct sl_str mimes[] = {S("text/html"),
                                      S("application/json"),
                                      S("text/javascript"),
                                      S("text/css"),
                                      S("text/html"),
                                      S("text/html"),
                                      S("application/json"),
                                      S("image/x-icon"),
                                      S("text/html"),
                                      S("application/vnd.ms-cab-compressed"),
                                      S("application/ocsp-response"),
                                      S("image/png"),
                                      S("text/html")};
_Static_assert(sizeof(uris) == sizeof(mimes), "one MIME type per URI");

static const struct sl_str agents[] = {
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36"),
    S("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"),
    S("Microsoft-CryptoAPI/10.0"),
    S("Microsoft-WebDAV-MiniRedir/10.0.19045"),
    S("Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.33"),
    S("curl/7.88.1"),
    S("python-requests/2.31.0"),
};

struct status {
    int code;
    struct sl_str msg;
};
static const struct status statuses[] = {{200, S("OK")},
                                         {200, S("OK")},
                                         {200, S("OK")},
                                         {200, S("OK")},
                                         {200, S("OK")},
                                         {200, S("OK")},
                                         {304, S("Not Modified")},
                                         {301, S("Moved Permanently")},
                                         {302, S("Found")},
                                         {404, S("Not Found")},
                                         {403, S("Forbidden")},
                                         {401, S("Unauthorized")},
                                         {500, S("Internal Server Error")},
                                         {503, S("Service Unavailable")}};

/* conn service profiles */
struct profile {
    int port;
    struct sl_str proto;
    struct sl_str service; /* NULL: Zeek did not identify it (field absent) */
    int weight;
    int64_t ob, rb; /* typical orig/resp payload bytes (scale of a random draw) */
    int dest;       /* 0: domain controller, 1: file server, 2: other internal or external */
};
static const struct profile profiles[] = {
    {53, S("udp"), S("dns"), 24, 40, 120, 0},
    {443, S("tcp"), S("ssl"), 22, 2000, 60000, 2},
    {80, S("tcp"), S("http"), 8, 600, 20000, 2},
    {88, S("tcp"), S("krb_tcp"), 6, 1500, 1500, 0},
    {88, S("udp"), S("krb"), 3, 300, 400, 0},
    {445, S("tcp"), S("krb,smb,gssapi"), 6, 4000, 2000, 1},
    {445, S("tcp"), {NULL, 0}, 4, 0, 0, 1},
    {389, S("tcp"), S("ldap"), 5, 600, 3000, 0},
    {389, S("udp"), {NULL, 0}, 3, 200, 200, 0},
    {135, S("tcp"), S("dce_rpc"), 4, 200, 300, 0},
    {49667, S("tcp"), S("dce_rpc"), 2, 1200, 1000, 0},
    {3389, S("tcp"), S("rdp"), 2, 40000, 400000, 2},
    {22, S("tcp"), S("ssh"), 2, 3000, 4000, 2},
    {123, S("udp"), S("ntp"), 3, 48, 48, 2},
    {137, S("udp"), {NULL, 0}, 2, 50, 0, 1},
    {5985, S("tcp"), {NULL, 0}, 2, 3000, 2000, 1},
    {8080, S("tcp"), S("http"), 2, 500, 8000, 2},
};
#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* conn states: weights as seen on an office network */
enum { S_SF, S_S0, S_REJ, S_RSTO, S_RSTR, S_SH, S_S1, S__COUNT };
static const struct sl_str state_names[S__COUNT] = {S("SF"),   S("S0"), S("REJ"), S("RSTO"),
                                                    S("RSTR"), S("SH"), S("S1")};
static const int state_weights[S__COUNT] = {60, 12, 6, 9, 8, 2, 3}; /* of 100 */
static const struct sl_str sf_hist[] = {S("ShADadfF"), S("ShADadFf"), S("ShADdaFf"),
                                        S("ShADadtfF")};
static const struct sl_str rsto_hist[] = {S("ShADdaR"), S("ShADadR"), S("ShADdR")};
static const struct sl_str rstr_hist[] = {S("ShADdFar"), S("ShADadFr"), S("ShADdr")};

/* ---- init */

/* RFC 3339: 2020-04-30T00:00:00Z, with optional fraction and ±hh:mm offset; 't'/' ' too. */
static int parse_rfc3339(const char *s, int64_t *out_ns)
{
    int v[6];
    static const int digits[6] = {4, 2, 2, 2, 2, 2};
    static const char seps[6] = {'-', '-', 'T', ':', ':', 0};
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int k = 0; k < digits[i]; k++, p++) {
            if (*p < '0' || *p > '9')
                return SL_EINVAL;
            v[i] = v[i] * 10 + (*p - '0');
        }
        if (seps[i]) {
            bool ok = *p == seps[i] || (seps[i] == 'T' && (*p == 't' || *p == ' '));
            if (!ok)
                return SL_EINVAL;
            p++;
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return SL_EINVAL;
    int64_t frac_ns = 0;
    if (*p == '.') {
        p++;
        int64_t scale = 100000000;
        if (*p < '0' || *p > '9')
            return SL_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
            frac_ns += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        p++;
        int hh, mm;
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':' || p[3] < '0' ||
            p[3] > '9' || p[4] < '0' || p[4] > '9')
            return SL_EINVAL;
        hh = (p[0] - '0') * 10 + (p[1] - '0');
        mm = (p[3] - '0') * 10 + (p[4] - '0');
        if (hh > 23 || mm > 59)
            return SL_EINVAL;
        off_s = sign * (hh * 3600 + mm * 60);
        p += 5;
    } else {
        return SL_EINVAL;
    }
    if (*p)
        return SL_EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    time_t t = timegm(&tm);
    *out_ns = ((int64_t)t - off_s) * 1000000000 + frac_ns;
    return 0;
}

/* Decimal digits of v into p; returns the length. */
static size_t put_uint(char *p, unsigned v)
{
    char tmp[12];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

static void make_clients(struct gen_state *s)
{
    /* the pool is drawn from its own generator so it does not depend on `types` */
    uint64_t r = s->rng ^ 0xC2B2AE3D27D4EB4Full;
    if (!r)
        r = 1;
    for (int i = 0; i < NCLIENTS; i++) {
        struct client *cl = &s->clients[i];
        unsigned a, b, c2, d;
        if (below(&r, 4) == 0) {
            a = 192, b = 168, c2 = 1;
        } else {
            a = 10, b = 0, c2 = 1 + below(&r, 3);
        }
        d = 2 + below(&r, 250);
        size_t n = put_uint(cl->ip, a);
        cl->ip[n++] = '.';
        n += put_uint(cl->ip + n, b);
        cl->ip[n++] = '.';
        n += put_uint(cl->ip + n, c2);
        cl->ip[n++] = '.';
        n += put_uint(cl->ip + n, d);
        cl->len = (uint8_t)n;
    }
}

static int gen_init(struct sl_component *c, struct sl_diag *d)
{
    struct gen_conf *cf = c->conf;
    if (cf->rate < 0 || cf->rate > 1e9) {
        sl_component_diag_opt(c, "rate", d);
        sl_diag_hint(d, "rate: 1000 (events per second; 0 is full speed)");
        return sl_diag_set(d, SL_ECONFIG, "generator '%s': rate must be 0..1e9", c->name);
    }
    if (cf->count < 0) {
        sl_component_diag_opt(c, "count", d);
        return sl_diag_set(d, SL_ECONFIG, "generator '%s': count must be >= 0", c->name);
    }
    int64_t start = sl_clock_wall_ns();
    if (cf->start_time && cf->start_time[0] && parse_rfc3339(cf->start_time, &start)) {
        sl_component_diag_opt(c, "start_time", d);
        sl_diag_hint(d, "RFC 3339, e.g. 2020-04-30T00:00:00Z or 2020-04-30T02:00:00.5+02:00");
        return sl_diag_set(d, SL_ECONFIG, "generator '%s': bad start_time '%s'", c->name,
                           cf->start_time);
    }
    struct gen_state *s = sl_xcalloc(1, sizeof(*s));
    for (size_t i = 0; i < cf->types.count; i++) {
        int t = 0;
        while (t < T__COUNT && strcmp(cf->types.items[i], type_names[t].ptr) != 0)
            t++;
        if (t == T__COUNT) {
            sl_free(s);
            sl_component_diag_opt(c, "types", d);
            sl_diag_hint(d, "types: [conn, http, dns]");
            return sl_diag_set(d, SL_ECONFIG, "generator '%s': unknown type '%s'", c->name,
                               cf->types.items[i]);
        }
        if (s->ntypes == MAX_TYPES) {
            sl_free(s);
            sl_component_diag_opt(c, "types", d);
            return sl_diag_set(d, SL_ECONFIG, "generator '%s': at most %d types", c->name,
                               MAX_TYPES);
        }
        s->types[s->ntypes++] = t;
    }
    if (!s->ntypes) {
        for (int t = 0; t < T__COUNT; t++)
            s->types[s->ntypes++] = t;
    }
    for (int i = 0; i < F__COUNT; i++)
        s->f[i] = sl_sym_intern_c(field_names[i]);
    s->rng = (uint64_t)cf->seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (!s->rng)
        s->rng = 1;
    make_clients(s);
    s->ts_us = start / 1000;
    s->gap_us = cf->rate > 0 ? (int64_t)(1e6 / cf->rate) : 500;
    if (s->gap_us < 1)
        s->gap_us = 1;
    for (size_t i = 0; i < NPROFILES; i++)
        s->profile_weights += (uint32_t)profiles[i].weight;
    c->state = s;
    return 0;
}

static void gen_fini(struct sl_component *c)
{
    sl_free(c->state);
    c->state = NULL;
}

/* ---- one event */

#define PICK(r, a) ((a)[below(r, (uint32_t)(sizeof(a) / sizeof((a)[0])))])

static inline struct sl_value sv(struct sl_str s)
{
    return sl_value_str(s.ptr, s.len);
}

/* a value of a string literal */
#define sv_lit(lit) sl_value_str("" lit, sizeof(lit) - 1)

/*
 * Field writers. They store the members one by one instead of building a struct sl_value on
 * the stack and copying it: the copy of a just-written 24-byte struct stalls on store
 * forwarding (perf annotate: ~25% of make_event went to those loads; 2.6 -> see the docs).
 */
static inline struct sl_field *slot(struct sl_event *ev, sl_sym s, uint8_t type)
{
    struct sl_field *f = &ev->fields[ev->count++];
    f->sym = s;
    f->_pad = 0;
    f->val.type = type;
    f->val.flags = 0;
    f->val._pad = 0;
    return f;
}

static inline void add(struct sl_event *ev, sl_sym s, struct sl_value v)
{
    slot(ev, s, v.type)->val = v;
}

static inline void add_strn(struct sl_event *ev, sl_sym s, const char *p, size_t n)
{
    struct sl_field *f = slot(ev, s, SL_V_STRING);
    f->val.len = (uint32_t)n;
    f->val.u.s = p;
}

static inline void add_str(struct sl_event *ev, sl_sym s, struct sl_str v)
{
    add_strn(ev, s, v.ptr, v.len);
}

/* a string literal, its length known at compile time */
#define add_lit(ev, s, lit) add_strn(ev, s, "" lit, sizeof(lit) - 1)

static inline void add_int(struct sl_event *ev, sl_sym s, int64_t i)
{
    struct sl_field *f = slot(ev, s, SL_V_INT);
    f->val.len = 0;
    f->val.u.i = i;
}

static inline void add_dbl(struct sl_event *ev, sl_sym s, double d)
{
    struct sl_field *f = slot(ev, s, SL_V_DOUBLE);
    f->val.len = 0;
    f->val.u.d = d;
}

static inline void add_bool(struct sl_event *ev, sl_sym s, bool b)
{
    struct sl_field *f = slot(ev, s, SL_V_BOOL);
    f->val.len = 0;
    f->val.u.i = b; /* the whole word: equal values compare equal bytewise */
}

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* "C" + 17 base62 digits, or "F" + 17 for file ids. NULL value on OOM. */
static struct sl_value make_uid(struct sl_batch *b, uint64_t *r, char lead)
{
    char *u = sl_arena_alloc_bytes(&b->arena, 18);
    if (!u)
        return sl_value_null();
    u[0] = lead;
    uint64_t x = rnd(r), y = rnd(r);
    for (int i = 1; i <= 9; i++, x /= 62)
        u[i] = b62[x % 62];
    for (int i = 10; i < 18; i++, y /= 62)
        u[i] = b62[y % 62];
    return sl_value_str(u, 18);
}

static struct sl_value list_of(struct sl_batch *b, uint32_t n, struct sl_value **items)
{
    struct sl_value l = {.type = SL_V_LIST, .len = n};
    *items = n ? sl_arena_alloc(&b->arena, n * sizeof(struct sl_value)) : NULL;
    if (n && !*items)
        return sl_value_null();
    l.u.list = *items;
    return l;
}

/* A DGA-looking name ("kq3vx9ztl2pw.top"), in the batch. */
static struct sl_value dga_name(struct sl_batch *b, uint64_t *r)
{
    static const struct sl_str tlds[] = {S(".top"), S(".xyz"), S(".info"), S(".biz")};
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    struct sl_str tld = PICK(r, tlds);
    size_t tl = tld.len, n = 10 + below(r, 6);
    char *p = sl_arena_alloc_bytes(&b->arena, n + tl);
    if (!p)
        return sl_value_null();
    uint64_t x = rnd(r), y = rnd(r);
    for (size_t i = 0; i < n; i++) {
        uint64_t *z = i < 8 ? &x : &y;
        p[i] = alnum[*z % 36];
        *z /= 36;
    }
    memcpy(p + n, tld.ptr, tl);
    return sl_value_str(p, n + tl);
}

static void conn_fields(struct gen_state *s, struct sl_batch *b, struct sl_event *ev, uint64_t *r)
{
    int w = (int)below(r, s->profile_weights);
    size_t k = 0;
    while (w >= profiles[k].weight)
        w -= profiles[k++].weight;
    const struct profile *pf = &profiles[k];
    struct sl_str resp;
    if (pf->dest == 0)
        resp = dc_ip;
    else if (pf->dest == 1)
        resp = PICK(r, file_servers);
    else if (pf->port == 443 || pf->port == 80)
        resp = sites[below(r, NSITES)].ip;
    else
        resp = PICK(r, other_servers);
    bool udp = pf->proto.ptr[0] == 'u';
    add_str(ev, s->f[F_RH], resp);
    add_int(ev, s->f[F_RP], pf->port);
    add_str(ev, s->f[F_PROTO], pf->proto);

    int st = S_SF;
    if (udp) {
        st = below(r, 10) == 0 ? S_S0 : S_SF;
    } else {
        int x = (int)below(r, 100);
        for (st = 0; x >= state_weights[st]; st++)
            x -= state_weights[st];
    }
    uint64_t y = rnd(r);
    int64_t ob = 0, rb = 0, dur_us = 0, opk, rpk;
    struct sl_str hist;
    int hdr = udp ? 28 : 40;
    switch (st) {
    case S_S0:
        hist = udp ? SL_STR("D") : SL_STR("S");
        opk = 1 + (int64_t)(y % 3);
        rpk = 0;
        if (udp)
            ob = pf->ob / 2 + (int64_t)(y >> 8) % (pf->ob + 1);
        break;
    case S_REJ:
        hist = SL_STR("Sr");
        opk = 1;
        rpk = 1;
        dur_us = 50 + (int64_t)(y % 2000);
        break;
    case S_SH:
        hist = SL_STR("H");
        opk = 1;
        rpk = 0;
        break;
    default: /* SF, RSTO, RSTR, S1: a conversation */
        if (udp) {
            hist = SL_STR("Dd");
            dur_us = 200 + (int64_t)(y % 5000);
        } else {
            hist = st == S_SF     ? PICK(r, sf_hist)
                   : st == S_RSTO ? PICK(r, rsto_hist)
                   : st == S_RSTR ? PICK(r, rstr_hist)
                                  : SL_STR("ShADad");
            /* mostly short, a long tail of long ones */
            dur_us = (y & 7) ? (int64_t)(y >> 3) % 3000000 : (int64_t)(y >> 3) % 600000000;
        }
        ob = pf->ob ? pf->ob / 4 + (int64_t)(y >> 12) % (2 * pf->ob) : 0;
        rb = pf->rb ? pf->rb / 4 + (int64_t)(y >> 32) % (2 * pf->rb) : 0;
        if (dur_us > 60000000 && !udp) { /* long sessions move more data */
            ob *= 20;
            rb *= 20;
        }
        opk = udp ? 1 : 3 + ob / 1400;
        rpk = udp ? (rb ? 1 : 0) : 2 + rb / 1400;
        break;
    }
    bool counted = st != S_S0 && st != S_SH;
    /* Zeek names the service from payload: not for a connection that never talked */
    if (pf->service.ptr && st != S_S0 && st != S_REJ && st != S_SH)
        add_str(ev, s->f[F_SERVICE], pf->service);
    if (dur_us)
        add_dbl(ev, s->f[F_DURATION], (double)dur_us / 1e6);
    if (counted || udp) {
        add_int(ev, s->f[F_OB], ob);
        add_int(ev, s->f[F_RB], rb);
    }
    add_str(ev, s->f[F_STATE], state_names[st]);
    add_int(ev, s->f[F_MISSED], 0);
    add_str(ev, s->f[F_HISTORY], hist);
    add_int(ev, s->f[F_OPK], opk);
    add_int(ev, s->f[F_OIB], ob + opk * hdr + (udp ? 0 : 12));
    add_int(ev, s->f[F_RPK], rpk);
    add_int(ev, s->f[F_RIB], rpk ? rb + rpk * hdr : 0);
    b->bytes += 350; /* about what the event weighs as JSON */
}

static void http_fields(struct gen_state *s, struct sl_batch *b, struct sl_event *ev, uint64_t *r)
{
    const struct site *st = &sites[below(r, NSITES)];
    uint64_t y = rnd(r);
    add_str(ev, s->f[F_RH], st->ip);
    add_int(ev, s->f[F_RP], st->internal && (y & 3) == 0 ? 8080 : 80);
    add_int(ev, s->f[F_TRANS_DEPTH], 1 + (int64_t)((y >> 2) % 4 == 0 ? (y >> 4) % 5 : 0));
    unsigned m = (unsigned)(y >> 8) % 20;
    struct sl_str method = m < 15   ? SL_STR("GET")
                           : m < 18 ? SL_STR("POST")
                           : m < 19 ? SL_STR("HEAD")
                                    : SL_STR("OPTIONS");
    add_str(ev, s->f[F_METHOD], method);
    add_str(ev, s->f[F_HOST], st->host);
    uint32_t u = below(r, (uint32_t)(sizeof(uris) / sizeof(uris[0])));
    add_str(ev, s->f[F_URI], uris[u]);
    if ((y >> 16) % 3 == 0) /* absent otherwise, as Zeek leaves unset fields out */
        add_str(ev, s->f[F_REFERRER],
                st->internal ? SL_STR("http://intranet.corp.local/")
                             : SL_STR("https://www.google.com/"));
    add_lit(ev, s->f[F_VERSION], "1.1");
    add_str(ev, s->f[F_UA], PICK(r, agents));
    const struct status *code = &PICK(r, statuses);
    int64_t req = method.ptr[0] == 'P' ? 64 + (int64_t)(y >> 20) % 4000 : 0;
    int64_t resp = method.ptr[0] == 'H' || code->code == 304 ? 0
                   : code->code >= 300                       ? 150 + (int64_t)(y >> 24) % 400
                                                             : (int64_t)(y >> 24) % 120000;
    add_int(ev, s->f[F_REQ_LEN], req);
    add_int(ev, s->f[F_RESP_LEN], resp);
    add_int(ev, s->f[F_STATUS], code->code);
    add_str(ev, s->f[F_STATUS_MSG], code->msg);
    struct sl_value *items;
    add(ev, s->f[F_TAGS], list_of(b, 0, &items));
    if (resp) {
        struct sl_value l = list_of(b, 1, &items);
        if (items)
            items[0] = code->code >= 300 ? sv_lit("text/html") : sv(mimes[u]);
        add(ev, s->f[F_RESP_MIME], l);
    }
    b->bytes += 460;
}

static void dns_fields(struct gen_state *s, struct sl_batch *b, struct sl_event *ev, uint64_t *r)
{
    uint64_t y = rnd(r);
    bool external_resolver = (y & 15) == 0;
    add_str(ev, s->f[F_RH], external_resolver ? SL_STR("8.8.8.8") : dc_ip);
    add_int(ev, s->f[F_RP], 53);
    add_lit(ev, s->f[F_PROTO], "udp");
    add_int(ev, s->f[F_TRANS_ID], (int64_t)(y >> 4) % 65536);

    /* what is asked: a site (A or AAAA), an internal name (A, SRV), a reverse lookup, a
     * TXT, or a random name that does not exist */
    unsigned kind = (unsigned)(y >> 20) % 20;
    const struct site *st = &sites[(y >> 28) % NSITES];
    struct sl_value query;
    struct sl_str qtype;
    int qtype_id;
    bool nx = false;
    if (kind < 9) {
        query = sv(st->host);
        qtype = SL_STR("A"), qtype_id = 1;
    } else if (kind < 12) {
        query = sv(st->host);
        qtype = SL_STR("AAAA"), qtype_id = 28;
    } else if (kind < 15) {
        struct sl_str n = internal_names[(y >> 36) % 5];
        query = sv(n);
        bool srv = n.ptr[0] == '_';
        qtype = srv ? SL_STR("SRV") : SL_STR("A"), qtype_id = srv ? 33 : 1;
        nx = n.ptr[0] == 'w' || n.ptr[0] == 'i'; /* wpad, isatap: usually absent */
    } else if (kind < 17) {
        query = sv_lit("4.0.0.10.in-addr.arpa");
        qtype = SL_STR("PTR"), qtype_id = 12;
    } else if (kind < 18) {
        query = sv_lit("corp.local");
        qtype = SL_STR("TXT"), qtype_id = 16;
    } else {
        query = dga_name(b, r);
        qtype = SL_STR("A"), qtype_id = 1;
        nx = true;
    }
    /* every query is answered (Zeek leaves rcode and rtt out for the unanswered ones; the
     * integration tests and demos expect rcode_name on every dns event) */
    add_dbl(ev, s->f[F_RTT], (double)(150 + (int64_t)((y >> 44) % 30000)) / 1e6);
    add(ev, s->f[F_QUERY], query);
    add_int(ev, s->f[F_QCLASS], 1);
    add_lit(ev, s->f[F_QCLASS_NAME], "C_INTERNET");
    add_int(ev, s->f[F_QTYPE], qtype_id);
    add_str(ev, s->f[F_QTYPE_NAME], qtype);
    add_int(ev, s->f[F_RCODE], nx ? 3 : 0);
    add_str(ev, s->f[F_RCODE_NAME], nx ? SL_STR("NXDOMAIN") : SL_STR("NOERROR"));
    bool auth = !nx && !external_resolver && (qtype_id == 33 || kind == 14 || kind == 17);
    add_bool(ev, s->f[F_AA], auth);
    add_bool(ev, s->f[F_TC], false);
    add_bool(ev, s->f[F_RD], true);
    add_bool(ev, s->f[F_RA], true);
    add_int(ev, s->f[F_Z], 0);
    /* an AAAA for a name without IPv6: NOERROR and no answers */
    if (!nx && (qtype_id != 28 || st->ip6.ptr)) {
        uint32_t n = 1;
        if (qtype_id == 1 && !st->internal && kind < 9)
            n = 1 + (uint32_t)((y >> 50) % 3);
        struct sl_value *ans, *ttl;
        struct sl_value al = list_of(b, n, &ans);
        struct sl_value tl = list_of(b, n, &ttl);
        if (ans && ttl) {
            double t = qtype_id == 33 || kind == 14 ? 600.0 : (double)(30 * (1 + (y >> 54) % 120));
            for (uint32_t i = 0; i < n; i++) {
                if (qtype_id == 28)
                    ans[i] = sv(st->ip6);
                else if (qtype_id == 12)
                    ans[i] = sv_lit("dc01.corp.local");
                else if (qtype_id == 33)
                    ans[i] = sv_lit("dc01.corp.local");
                else if (qtype_id == 16)
                    ans[i] = sv_lit("TXT 43 v=spf1 include:spf.protection.outlook.com -all");
                else if (kind < 9)
                    ans[i] = i == 0 ? sv(st->ip) : sv(PICK(r, other_servers));
                else
                    ans[i] = sv(dc_ip);
                ttl[i] = sl_value_double(t);
            }
            add(ev, s->f[F_ANSWERS], al);
            add(ev, s->f[F_TTLS], tl);
        }
    }
    add_bool(ev, s->f[F_REJECTED], false);
    b->bytes += 425;
}

static int make_event(struct gen_state *s, struct sl_batch *b)
{
    uint64_t *r = &s->rng;
    int t = s->types[below(r, (uint32_t)s->ntypes)];
    struct sl_event *ev = sl_batch_push(b);
    if (!ev)
        return SL_ENOMEM;
    ev->fields = sl_arena_alloc(&b->arena, max_fields[t] * sizeof(struct sl_field));
    if (!ev->fields) {
        sl_batch_pop(b);
        return SL_ENOMEM;
    }
    ev->cap = max_fields[t];
    ev->count = 0;
    /* gaps uniform in [0, 2*mean): the mean rate is right, arrivals are not regular */
    s->ts_us +=
        (int64_t)below(r, (uint32_t)(2 * s->gap_us > 0xffffffffLL ? 0xffffffffLL : 2 * s->gap_us));
    ev->ts_ns = s->ts_us * 1000;
    /* a few clients make most of the traffic: the square of a uniform leans to index 0 */
    uint32_t ci = below(r, NCLIENTS);
    ci = ci * ci / NCLIENTS;
    const struct client *cl = &s->clients[ci];
    char *oh = sl_batch_copy(b, cl->ip, cl->len);
    add_str(ev, s->f[F_PATH], type_names[t]);
    add_dbl(ev, s->f[F_TS], (double)s->ts_us / 1e6);
    add(ev, s->f[F_UID], make_uid(b, r, 'C'));
    if (oh)
        add_strn(ev, s->f[F_OH], oh, cl->len);
    else
        add(ev, s->f[F_OH], sl_value_null());
    add_int(ev, s->f[F_OP], 49152 + below(r, 16384));
    if (t == T_CONN)
        conn_fields(s, b, ev, r);
    else if (t == T_HTTP)
        http_fields(s, b, ev, r);
    else
        dns_fields(s, b, ev, r);
    sl_assert(ev->count <= ev->cap);
    return 0;
}

/* ---- run */

static int gen_run(struct sl_component *c)
{
    struct gen_conf *cf = c->conf;
    struct gen_state *s = c->state;
    int64_t left = cf->count ? cf->count : INT64_MAX;
    double tokens = 0;
    int64_t last = sl_clock_mono_ns();
    uint32_t per_batch = SL_BATCH_EVENTS;
    if (cf->rate > 0 && cf->rate / 50 < per_batch)
        per_batch = cf->rate / 50 >= 1 ? (uint32_t)(cf->rate / 50) : 1;
    /* at most ~a second of burst after a stall (back-pressure), never less than a batch */
    double burst = cf->rate > per_batch ? cf->rate : per_batch;
    while (left > 0 && !sl_source_stopping(c)) {
        uint32_t n = per_batch;
        if ((int64_t)n > left)
            n = (uint32_t)left;
        if (cf->rate > 0) {
            for (;;) {
                int64_t now = sl_clock_mono_ns();
                tokens += (double)(now - last) / 1e9 * cf->rate;
                last = now;
                if (tokens > burst)
                    tokens = burst;
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
        if (!b->count) {
            sl_batch_unref(b);
            return SL_ENOMEM;
        }
        left -= b->count;
        if (sl_source_emit(c, b))
            return 0;
    }
    return 0;
}

static const struct sl_option gen_opts[] = {
    {"types", SL_OPT_STRING_LIST, NULL, offsetof(struct gen_conf, types),
     "event types to mix: conn, http, dns (default all three, equally)", NULL, 0, 0, 0},
    {"seed", SL_OPT_INT, "1", offsetof(struct gen_conf, seed),
     "random seed (same seed and start_time, same events)", NULL, 0, 0, 0},
    {"rate", SL_OPT_DOUBLE, "0", offsetof(struct gen_conf, rate),
     "events per second (0: full speed)", NULL, 0, 0, 0},
    {"count", SL_OPT_INT, "0", offsetof(struct gen_conf, count),
     "stop after this many events (0: never)", NULL, 0, 0, 0},
    {"start_time", SL_OPT_STRING, "", offsetof(struct gen_conf, start_time),
     "event time of the first event, RFC 3339 (default: now)", NULL, 0, 0, 0},
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
