/*
 * fn_net.c — Stellar network builtins: IN_SUBNET, the DOMAIN_* functions over the public
 * suffix list, URL_TO_*, and IS_IP / IS_DOMAIN / IS_EMAIL / IS_URL.
 *
 * IN_SUBNET is commons-net 3.1's SubnetUtils(cidr).getInfo().isInRange(ip) as Metron calls
 * it, quirks included: the network and broadcast addresses are not in range, /31 and /32
 * never match, a prefix of 0 or a non-IPv4 address is an error, a null ip is false, null
 * CIDRs are skipped, several CIDRs are OR-ed.
 *
 * DESIGN: the public suffix list is read once per process (pthread_once) from Debian's
 * `publicsuffix` package (/usr/share/publicsuffix/public_suffix_list.dat) into a sorted
 * array searched by binary search; rules with wildcards and exceptions are honoured. When
 * the file is missing, or for an unknown TLD, the last label is the suffix, which is what
 * Guava's InternetDomainName gives Metron for unknown TLDs.
 */
#include "base/alloc.h"
#include "lang/func.h"
#include "lang/sval.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- IN_SUBNET ---- */

static bool parse_ip4(const char *p, size_t n, uint32_t *out)
{
    uint32_t v = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        if (i >= n || p[i] < '0' || p[i] > '9')
            return false;
        uint32_t x = 0;
        size_t digits = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            x = x * 10 + (uint32_t)(p[i++] - '0');
            if (++digits > 3 || x > 255)
                return false;
        }
        v = v << 8 | x;
        parts++;
        if (parts < 4) {
            if (i >= n || p[i] != '.')
                return false;
            i++;
        }
    }
    if (i != n)
        return false;
    *out = v;
    return true;
}

static int f_in_subnet(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(false);
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "IN_SUBNET: the address must be a String");
    uint32_t ip;
    if (!parse_ip4(a[0].u.s, a[0].len, &ip))
        return sl_fcx_error(cx, "IN_SUBNET: could not parse [%.*s]",
                            (int)(a[0].len > 64 ? 64 : a[0].len), a[0].u.s);
    bool in = false;
    for (int i = 1; i < n; i++) {
        const struct sl_value *c = &a[i];
        if (c->type == SL_V_NULL)
            continue;
        if (c->type != SL_V_STRING)
            return sl_fcx_error(cx, "IN_SUBNET: a CIDR must be a String");
        const char *slash = memchr(c->u.s, '/', c->len);
        uint32_t net;
        if (!slash || !parse_ip4(c->u.s, (size_t)(slash - c->u.s), &net))
            return sl_fcx_error(cx, "IN_SUBNET: could not parse [%.*s]",
                                (int)(c->len > 64 ? 64 : c->len), c->u.s);
        int64_t bits;
        size_t bl = c->len - (size_t)(slash - c->u.s) - 1;
        if (sl_sv_parse_long(slash + 1, bl, &bits) || bits <= 0 || bits > 32)
            return sl_fcx_error(cx, "IN_SUBNET: value [%lld] not in range (0,32]",
                                bl ? (long long)bits : 0LL);
        uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
        uint32_t network = net & mask, broadcast = network | ~mask;
        /* inclusiveHostCount=false: low = network+1, high = broadcast-1, and both 0 when the
         * subnet has no more than 2 addresses */
        uint32_t low = 0, high = 0;
        if (broadcast - network > 1) {
            low = network + 1;
            high = broadcast - 1;
        }
        if (ip >= low && ip <= high && (low || high))
            in = true;
    }
    *out = sl_value_bool(in);
    return 0;
}

/* ---- public suffixes ---- */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static char **psl; /* sorted rules ("co.uk", "*.ck", "!www.ck") */
static size_t npsl;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void psl_load(void)
{
    const char *path = getenv("SL_PUBLIC_SUFFIX_LIST");
    FILE *f = fopen(path ? path : "/usr/share/publicsuffix/public_suffix_list.dat", "r");
    if (!f)
        return;
    size_t cap = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, " \t\r\n");
        line[l] = 0;
        if (!l || (line[0] == '/' && line[1] == '/'))
            continue;
        for (size_t i = 0; i < l; i++)
            if (line[i] >= 'A' && line[i] <= 'Z')
                line[i] = (char)(line[i] + 32);
        if (npsl == cap) {
            cap = cap ? cap * 2 : 4096;
            psl = sl_xrealloc(psl, cap * sizeof *psl);
        }
        psl[npsl++] = sl_xstrdup(line);
    }
    fclose(f);
    qsort(psl, npsl, sizeof *psl, cmp_str);
}

static bool psl_has(const char *s, size_t n)
{
    char key[256];
    if (n >= sizeof key)
        return false;
    memcpy(key, s, n);
    key[n] = 0;
    const char *k = key;
    return bsearch(&k, psl, npsl, sizeof *psl, cmp_str) != NULL;
}

/* Offset in d (lower-cased, len n) where the public suffix starts. */
static size_t suffix_start(const char *d, size_t n)
{
    pthread_once(&psl_once, psl_load);
    /* try each label boundary from the longest candidate down */
    size_t best = n; /* none yet */
    for (size_t i = 0; i <= n; i++) {
        if (i && d[i - 1] != '.')
            continue;
        const char *c = d + i;
        size_t cl = n - i;
        if (!cl)
            break;
        char tmp[260];
        if (cl + 2 >= sizeof tmp)
            continue;
        tmp[0] = '!';
        memcpy(tmp + 1, c, cl);
        if (psl_has(tmp, cl + 1)) { /* exception: the suffix is one label shorter */
            const char *dot = memchr(c, '.', cl);
            return dot ? (size_t)(dot - d) + 1 : n;
        }
        if (psl_has(c, cl))
            return i;
        /* wildcard: "*.rest" where rest is what follows this label */
        const char *dot = memchr(c, '.', cl);
        if (dot) {
            size_t rl = cl - (size_t)(dot - c) - 1;
            tmp[0] = '*';
            tmp[1] = '.';
            memcpy(tmp + 2, dot + 1, rl);
            if (psl_has(tmp, rl + 2))
                return i;
        }
    }
    if (best == n) {
        const char *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (d[i] == '.')
                last = d + i;
        best = last ? (size_t)(last - d) + 1 : 0;
    }
    return best;
}

static int domain_fn(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, int which)
{
    if (a[0].type != SL_V_STRING)
        return 0;
    size_t n = a[0].len;
    if (n > 253)
        return 0;
    char *d = sl_fcx_alloc(cx, n ? n : 1);
    if (!d)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        char ch = a[0].u.s[i];
        d[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    size_t s = suffix_start(d, n);
    if (which == 0) { /* DOMAIN_TO_TLD */
        *out = sl_value_str(a[0].u.s + s, n - s);
    } else if (which == 1) { /* DOMAIN_REMOVE_TLD */
        size_t e = s ? s - 1 : 0;
        *out = sl_value_str(a[0].u.s, e);
    } else { /* DOMAIN_REMOVE_SUBDOMAINS: the registrable domain */
        if (!s) {
            *out = a[0];
            return 0;
        }
        size_t b = s - 1; /* the dot before the suffix */
        while (b > 0 && d[b - 1] != '.')
            b--;
        *out = sl_value_str(a[0].u.s + b, n - b);
    }
    return 0;
}

static int f_domain_to_tld(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, 0);
}
static int f_domain_remove_tld(struct sl_fcx *cx, const struct sl_value *a, int n,
                               struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, 1);
}
static int f_domain_remove_subdomains(struct sl_fcx *cx, const struct sl_value *a, int n,
                                      struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, 2);
}

/* ---- URLs (java.net.URL's reading of scheme://[user@]host[:port]/path?query#ref) ---- */

struct url {
    struct sl_str proto, host, path;
    int64_t port; /* -1: none given */
};

static bool parse_url(const struct sl_value *v, struct url *u)
{
    if (v->type != SL_V_STRING)
        return false;
    const char *s = v->u.s, *end = s + v->len;
    const char *colon = memchr(s, ':', v->len);
    if (!colon || colon == s || end - colon < 3 || colon[1] != '/' || colon[2] != '/')
        return false;
    u->proto = sl_str_make(s, (size_t)(colon - s));
    const char *h = colon + 3;
    const char *pe = h;
    while (pe < end && *pe != '/' && *pe != '?' && *pe != '#')
        pe++;
    const char *at = memchr(h, '@', (size_t)(pe - h));
    if (at)
        h = at + 1;
    const char *hp = h;
    const char *hend = pe;
    if (hp < pe && *hp == '[') { /* [v6] */
        const char *rb = memchr(hp, ']', (size_t)(pe - hp));
        if (!rb)
            return false;
        hend = rb + 1;
    } else {
        const char *c = memchr(hp, ':', (size_t)(pe - hp));
        if (c)
            hend = c;
    }
    u->host = sl_str_make(hp, (size_t)(hend - hp));
    u->port = -1;
    if (hend < pe && *hend == ':' && pe - hend > 1) {
        if (sl_sv_parse_long(hend + 1, (size_t)(pe - hend - 1), &u->port) || u->port < 0 ||
            u->port > 65535)
            return false;
    }
    const char *q = pe;
    while (q < end && *q != '?' && *q != '#')
        q++;
    u->path = sl_str_make(pe, (size_t)(q - pe));
    return true;
}

static int64_t default_port(struct sl_str proto)
{
    static const struct {
        const char *p;
        int port;
    } ports[] = {{"http", 80}, {"https", 443}, {"ftp", 21}, {"ssh", 22}, {"telnet", 23},
                 {"smtp", 25}, {"ldap", 389}, {"ldaps", 636}, {"ws", 80}, {"wss", 443}};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (proto.len == strlen(ports[i].p) && !strncasecmp(proto.ptr, ports[i].p, proto.len))
            return ports[i].port;
    return -1;
}

static int f_url_to_host(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    struct url u;
    if (parse_url(&a[0], &u))
        *o = sl_value_str(u.host.ptr, u.host.len);
    return 0;
}

static int f_url_to_port(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    struct url u;
    if (parse_url(&a[0], &u)) {
        int64_t p = u.port >= 0 ? u.port : default_port(u.proto);
        *o = sl_sv_int((int32_t)p);
    }
    return 0;
}

static int f_url_to_protocol(struct sl_fcx *cx, const struct sl_value *a, int n,
                             struct sl_value *o)
{
    (void)cx;
    (void)n;
    struct url u;
    if (parse_url(&a[0], &u))
        *o = sl_value_str(u.proto.ptr, u.proto.len);
    return 0;
}

static int f_url_to_path(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    struct url u;
    if (parse_url(&a[0], &u))
        *o = sl_value_str(u.path.ptr, u.path.len);
    return 0;
}

/* ---- validators ---- */

static bool valid_domain(const char *s, size_t n)
{
    if (!n || n > 253)
        return false;
    size_t label = 0;
    bool alpha_tld = false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!label || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c == '-' && label > 0);
        if (!ok)
            return false;
        label++;
    }
    /* the last label must contain a letter (not an IP address) and there must be a dot */
    const char *last = s;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.')
            last = s + i + 1;
    for (const char *p = last; p < s + n; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            alpha_tld = true;
    return alpha_tld && last != s;
}

static int f_is_ip(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    bool want4 = true, want6 = true;
    if (n > 1 && a[1].type == SL_V_STRING) {
        want4 = a[1].len == 4 && !strncasecmp(a[1].u.s, "IPV4", 4);
        want6 = a[1].len == 4 && !strncasecmp(a[1].u.s, "IPV6", 4);
    }
    bool r = false;
    if (a[0].type == SL_V_STRING) {
        struct sl_value ip;
        if (!sl_value_ip_parse(sl_value_as_str(&a[0]), &ip))
            r = ((ip.flags & SL_VF_IP4) && want4) || ((ip.flags & SL_VF_IP6) && want6);
    }
    *o = sl_value_bool(r);
    return 0;
}

static int f_is_domain(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    *o = sl_value_bool(a[0].type == SL_V_STRING && valid_domain(a[0].u.s, a[0].len));
    return 0;
}

static int f_is_email(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    bool r = false;
    if (a[0].type == SL_V_STRING && a[0].len < 320) {
        const char *at = memchr(a[0].u.s, '@', a[0].len);
        if (at && at > a[0].u.s) {
            size_t local = (size_t)(at - a[0].u.s);
            r = local <= 64 && !memchr(at + 1, '@', a[0].len - local - 1) &&
                valid_domain(at + 1, a[0].len - local - 1);
            for (size_t i = 0; r && i < local; i++)
                r = a[0].u.s[i] > ' ' && a[0].u.s[i] != '(' && a[0].u.s[i] != ')' &&
                    a[0].u.s[i] != ',' && a[0].u.s[i] != ';' && a[0].u.s[i] != '<' &&
                    a[0].u.s[i] != '>';
        }
    }
    *o = sl_value_bool(r);
    return 0;
}

static int f_is_url(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)cx;
    (void)n;
    struct url u;
    bool r = parse_url(&a[0], &u) && u.host.len > 0;
    for (size_t i = 0; r && i < u.proto.len; i++) {
        char c = u.proto.ptr[i];
        r = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (i && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    }
    *o = sl_value_bool(r);
    return 0;
}

const struct sl_sfunc sl_sfuncs_net[] = {
    {"IN_SUBNET", 2, SL_SF_VARARGS, SL_SF_PURE, "(ip, cidr...)", "Boolean",
     "true if the IPv4 address is in any of the CIDRs, as commons-net 3.1: network and "
     "broadcast addresses excluded, /31 and /32 never match, /0 and non-IPv4 are errors.",
     f_in_subnet},
    {"DOMAIN_TO_TLD", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The public suffix (co.uk for www.google.co.uk); the last label when unknown.",
     f_domain_to_tld},
    {"DOMAIN_REMOVE_TLD", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The domain without its public suffix (www.google for www.google.co.uk).",
     f_domain_remove_tld},
    {"DOMAIN_REMOVE_SUBDOMAINS", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The registrable domain (google.co.uk for www.google.co.uk).",
     f_domain_remove_subdomains},
    {"URL_TO_HOST", 1, 1, SL_SF_PURE, "(url)", "String", "Host of a URL; null if not a URL.",
     f_url_to_host},
    {"URL_TO_PORT", 1, 1, SL_SF_PURE, "(url)", "Integer",
     "Port of a URL, defaulting by protocol (http 80, https 443, ftp 21...); -1 if unknown.",
     f_url_to_port},
    {"URL_TO_PROTOCOL", 1, 1, SL_SF_PURE, "(url)", "String", "Scheme of a URL.",
     f_url_to_protocol},
    {"URL_TO_PATH", 1, 1, SL_SF_PURE, "(url)", "String", "Path of a URL (without the query).",
     f_url_to_path},
    {"IS_IP", 1, 2, SL_SF_PURE, "(address, 'IPV4'|'IPV6'?)", "Boolean",
     "true for a valid IPv4 or IPv6 address (of the given family).", f_is_ip},
    {"IS_DOMAIN", 1, 1, SL_SF_PURE, "(string)", "Boolean", "true for a syntactically valid domain.",
     f_is_domain},
    {"IS_EMAIL", 1, 1, SL_SF_PURE, "(string)", "Boolean", "true for local@domain.", f_is_email},
    {"IS_URL", 1, 1, SL_SF_PURE, "(string)", "Boolean", "true for scheme://host...", f_is_url},
    {0},
};
