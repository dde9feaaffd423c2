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

/* commons-net 3.1 SubnetUtils: `(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})` then each octet
 * range-checked in (-1,255]. 1: ok; 0: no match ("Could not parse"); -1: octet out of range
 * (*bad holds it). */
static int java_ip4(const char *p, size_t n, uint32_t *out, int *bad)
{
    uint32_t v = 0;
    size_t i = 0;
    int over = -1;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || p[i] != '.')
                return 0;
            i++;
        }
        size_t d = 0;
        int x = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && d < 3) {
            x = x * 10 + (p[i++] - '0');
            d++;
        }
        if (!d)
            return 0;
        if (x > 255 && over < 0)
            over = x;
        v = v << 8 | (uint32_t)(x & 0xff);
    }
    if (i != n)
        return 0;
    if (over >= 0) {
        *bad = over;
        return -1;
    }
    *out = v;
    return 1;
}

static int ip_error(struct sl_fcx *cx, const struct sl_value *v, int r, int bad)
{
    if (r < 0)
        return sl_fcx_error(cx, "IN_SUBNET: Value [%d] not in range (-1,255]", bad);
    return sl_fcx_error(cx, "IN_SUBNET: Could not parse [%.*s]", (int)(v->len > 64 ? 64 : v->len),
                        v->u.s);
}

static int f_in_subnet(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *out)
{
    *out = sl_value_bool(false);
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return sl_fcx_error(cx, "IN_SUBNET: the address must be a String, got %s",
                            sl_vtype_name((enum sl_vtype)a[0].type));
    uint32_t ip = 0;
    int bad = 0, r;
    bool have_ip = false;
    /* OR over the CIDRs, stopping at the first match (later ones are not even parsed) */
    for (int i = 1; i < n; i++) {
        const struct sl_value *c = &a[i];
        if (c->type == SL_V_NULL)
            continue;
        if (c->type != SL_V_STRING)
            return sl_fcx_error(cx, "IN_SUBNET: a CIDR must be a String, got %s",
                                sl_vtype_name((enum sl_vtype)c->type));
        /* the CIDR is parsed first (new SubnetUtils(cidr)), the address in isInRange */
        const char *slash = memchr(c->u.s, '/', c->len);
        uint32_t net = 0;
        if (!slash)
            return ip_error(cx, c, 0, 0);
        size_t bl = c->len - (size_t)(slash - c->u.s) - 1;
        int bits = 0;
        bool digits = bl >= 1 && bl <= 3;
        for (size_t k = 0; digits && k < bl; k++) {
            digits = slash[1 + k] >= '0' && slash[1 + k] <= '9';
            bits = bits * 10 + (slash[1 + k] - '0');
        }
        r = digits ? java_ip4(c->u.s, (size_t)(slash - c->u.s), &net, &bad) : 0;
        if (r <= 0)
            return ip_error(cx, c, r, bad);
        if (bits <= 0 || bits > 32)
            return sl_fcx_error(cx, "IN_SUBNET: Value [%d] not in range (0,32]", bits);
        if (!have_ip) {
            r = java_ip4(a[0].u.s, a[0].len, &ip, &bad);
            if (r <= 0)
                return ip_error(cx, &a[0], r, bad);
            have_ip = true;
        }
        uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
        uint32_t network = net & mask, broadcast = network | ~mask;
        /* inclusiveHostCount=false: low = network+1 and high = broadcast-1, both 0 when the
         * subnet has 2 addresses or fewer, so /31 and /32 hold only 0.0.0.0 */
        uint32_t low = 0, high = 0;
        if (broadcast - network > 1) {
            low = network + 1;
            high = broadcast - 1;
        }
        if (ip - low <= high - low) {
            *out = sl_value_bool(true);
            return 0;
        }
    }
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

/* Offset in d (canonical: lower-cased, no trailing dot; length n) where the public suffix
 * starts; *known is false when no rule matched and the last label was taken instead. */
static size_t suffix_start(const char *d, size_t n, bool *known)
{
    pthread_once(&psl_once, psl_load);
    *known = true;
    /* try each label boundary from the longest candidate down, as Guava 17's
     * publicSuffixIndex: exact rule, exception rule (!x: the suffix is one label shorter),
     * wildcard rule (*.rest) */
    for (size_t i = 0; i < n; i++) {
        if (i && d[i - 1] != '.')
            continue;
        const char *c = d + i;
        size_t cl = n - i;
        char tmp[260];
        if (cl + 2 >= sizeof tmp)
            continue;
        if (psl_has(c, cl))
            return i;
        tmp[0] = '!';
        memcpy(tmp + 1, c, cl);
        if (psl_has(tmp, cl + 1)) {
            const char *dot = memchr(c, '.', cl);
            return dot ? (size_t)(dot - d) + 1 : n;
        }
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
    *known = false;
    const char *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (d[i] == '.')
            last = d + i;
    return last ? (size_t)(last - d) + 1 : 0;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Guava's InternetDomainName.from() syntax: at most 253 characters (after a trailing dot is
 * dropped) and 127 labels; labels of 1..63 characters from [A-Za-z0-9_-] (non-ASCII
 * characters pass), not starting or ending with '-'; the last label not starting with a
 * digit. */
static bool guava_valid(const char *d, size_t n)
{
    if (n && d[n - 1] == '.')
        n--;
    if (!n || n > 253)
        return false;
    size_t start = 0, labels = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.')
            continue;
        size_t l = i - start;
        if (!l || l > 63 || ++labels > 127)
            return false;
        for (size_t k = start; k < i; k++) {
            unsigned char ch = (unsigned char)d[k];
            if (ch < 0x80 && !is_alnum((char)ch) && ch != '-' && ch != '_')
                return false;
        }
        if (d[start] == '-' || d[i - 1] == '-')
            return false;
        if (i == n && d[start] >= '0' && d[start] <= '9')
            return false;
        start = i + 1;
    }
    return true;
}

/* Metron's IllegalArgumentException for a non-string domain or URL: "<value> is not a string
 * and therefore also not a <what>". */
static int not_a_string(struct sl_fcx *cx, const char *fn, const struct sl_value *v,
                        const char *what)
{
    struct sl_buf *b = sl_fcx_scratch(cx);
    sl_buf_reset(b);
    int rc = sl_sv_format(v, b);
    if (rc)
        return rc;
    return sl_fcx_error(cx, "%s: %.*s is not a string and therefore also not a %s", fn,
                        (int)(b->len > 64 ? 64 : b->len), b->ptr ? b->ptr : "", what);
}

enum { DOM_TO_TLD, DOM_REMOVE_TLD, DOM_REMOVE_SUBDOMAINS };

/* Metron's NetworkFunctions over Guava 17: the TLD is the public suffix in canonical (lower)
 * case when one is known, else the text after the last dot as written; the other two cut
 * the original string by the TLD's length. An invalid domain gives null (DOMAIN_TO_TLD: the
 * last label); a non-string is an error. */
static int domain_fn(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *out, int which)
{
    static const char *const names[] = {"DOMAIN_TO_TLD", "DOMAIN_REMOVE_TLD",
                                        "DOMAIN_REMOVE_SUBDOMAINS"};
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return not_a_string(cx, names[which], &a[0], "domain");
    const char *dn = a[0].u.s;
    size_t n = a[0].len;
    bool valid = guava_valid(dn, n);
    if (!valid && which != DOM_TO_TLD)
        return 0;
    struct sl_value tld;
    bool known = false;
    if (valid) {
        size_t cn = dn[n - 1] == '.' ? n - 1 : n;
        char *d = sl_fcx_alloc(cx, cn);
        if (!d)
            return SL_ENOMEM;
        for (size_t i = 0; i < cn; i++)
            d[i] = dn[i] >= 'A' && dn[i] <= 'Z' ? (char)(dn[i] + 32) : dn[i];
        size_t s = suffix_start(d, cn, &known);
        if (known && s < cn)
            tld = sl_value_str(d + s, cn - s);
        else
            known = false;
    }
    if (!known) { /* the last label as written (empty after a trailing dot) */
        size_t s = n;
        while (s > 0 && dn[s - 1] != '.')
            s--;
        tld = sl_value_str(dn + s, n - s);
    }
    if (which == DOM_TO_TLD) {
        *out = tld;
        return 0;
    }
    size_t cut = n - tld.len; /* suffix = dn[0, cut), e.g. "www.google." */
    if (which == DOM_REMOVE_TLD) {
        *out = sl_value_str(dn, cut ? cut - 1 : 0);
        return 0;
    }
    if (cut == 0) {
        *out = a[0];
        return 0;
    }
    size_t e = cut - 1, b = e; /* hostname without the TLD is dn[0, e): keep its last label */
    while (b > 0 && dn[b - 1] != '.')
        b--;
    struct sl_buf *buf = sl_fcx_scratch(cx);
    sl_buf_reset(buf);
    int rc = sl_buf_append(buf, dn + b, e - b);
    if (!rc)
        rc = sl_buf_append(buf, ".", 1);
    if (!rc)
        rc = sl_buf_append(buf, tld.u.s, tld.len);
    if (!rc)
        rc = sl_fcx_str(cx, buf->ptr, buf->len, out);
    return rc;
}

static int f_domain_to_tld(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, DOM_TO_TLD);
}
static int f_domain_remove_tld(struct sl_fcx *cx, const struct sl_value *a, int n,
                               struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, DOM_REMOVE_TLD);
}
static int f_domain_remove_subdomains(struct sl_fcx *cx, const struct sl_value *a, int n,
                                      struct sl_value *o)
{
    (void)n;
    return domain_fn(cx, a, o, DOM_REMOVE_SUBDOMAINS);
}

/* ---- URLs: java.net.URL's reading of a spec ---- */

struct url {
    char proto[8]; /* lower-cased */
    struct sl_str host, path;
    int64_t port; /* -1: none given */
};

/* The protocols a stock JVM has handlers for; others are MalformedURLException ("unknown
 * protocol"), so Metron's URL_TO_* return null for them. Default ports as the handlers. */
static const struct {
    const char *name;
    int port;
} java_protos[] = {{"http", 80}, {"https", 443}, {"ftp", 21},   {"file", -1},
                   {"jar", -1},  {"mailto", -1}, {"netdoc", -1}};

/* new URL(spec): trims blanks (<= ' '), an optional "url:" prefix, the protocol up to the
 * first ':' (letter, then letters, digits, '+', '-', '.'; no '/' before it), the #ref; then
 * URLStreamHandler.parseURL: "//authority" up to '/' or '?', [userinfo@]host[:port] (one '@'
 * only; the port after the first ':' of the host, digits, any size), [v6] hosts; the path
 * up to '?'. false where Java throws. */
static bool parse_url(const struct sl_value *v, struct url *u)
{
    const char *s = v->u.s, *end = s + v->len;
    while (s < end && (unsigned char)*s <= ' ')
        s++;
    while (end > s && (unsigned char)end[-1] <= ' ')
        end--;
    if (end - s >= 4 && !strncasecmp(s, "url:", 4))
        s += 4;
    const char *p = s;
    while (p < end && *p != ':' && *p != '/')
        p++;
    if (p == end || *p != ':' || p == s || (size_t)(p - s) >= sizeof u->proto)
        return false;
    size_t pl = (size_t)(p - s);
    for (size_t i = 0; i < pl; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (!i || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
            return false;
        u->proto[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    u->proto[pl] = 0;
    bool known = false;
    for (size_t i = 0; i < sizeof java_protos / sizeof java_protos[0] && !known; i++)
        known = !strcmp(u->proto, java_protos[i].name);
    if (!known)
        return false;
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash)
        end = hash;
    s = p + 1;
    if (!strcmp(u->proto, "jar")) { /* jar:<url>!/<entry> */
        const char *bang = NULL;
        for (const char *q = s; q + 1 < end && !bang; q++)
            if (q[0] == '!' && q[1] == '/')
                bang = q;
        if (!bang)
            return false;
    }
    u->host = sl_str_make("", 0);
    u->port = -1;
    if (end - s >= 2 && s[0] == '/' && s[1] == '/' && strcmp(u->proto, "mailto") != 0) {
        const char *h = s + 2, *ae = h;
        while (ae < end && *ae != '/' && *ae != '?')
            ae++;
        const char *at = memchr(h, '@', (size_t)(ae - h));
        if (at) {
            if (memchr(at + 1, '@', (size_t)(ae - at - 1)))
                return false; /* more than one '@': Java keeps no host; treat as malformed */
            h = at + 1;
        }
        const char *he = ae;
        if (h < ae && *h == '[') {
            const char *rb = memchr(h, ']', (size_t)(ae - h));
            if (!rb)
                return false;
            he = rb + 1;
            if (he < ae && *he != ':')
                return false;
        } else {
            const char *c = memchr(h, ':', (size_t)(ae - h));
            if (c)
                he = c;
        }
        u->host = sl_str_make(h, (size_t)(he - h));
        if (he < ae && ae - he > 1) {
            int64_t port = 0;
            for (const char *q = he + 1; q < ae; q++) {
                if (*q < '0' || *q > '9' || port > INT32_MAX / 10)
                    return false;
                port = port * 10 + (*q - '0');
            }
            if (port > INT32_MAX)
                return false;
            u->port = port;
        }
        s = ae;
    }
    const char *q = memchr(s, '?', (size_t)(end - s));
    u->path = sl_str_make(s, (size_t)((q ? q : end) - s));
    return true;
}

static int default_port(const struct url *u)
{
    for (size_t i = 0; i < sizeof java_protos / sizeof java_protos[0]; i++)
        if (!strcmp(u->proto, java_protos[i].name))
            return java_protos[i].port;
    return -1;
}

enum { URL_HOST, URL_PORT, URL_PROTOCOL, URL_PATH };

static int url_fn(struct sl_fcx *cx, const struct sl_value *a, struct sl_value *o, int which)
{
    static const char *const names[] = {"URL_TO_HOST", "URL_TO_PORT", "URL_TO_PROTOCOL",
                                        "URL_TO_PATH"};
    if (a[0].type == SL_V_NULL)
        return 0;
    if (a[0].type != SL_V_STRING)
        return not_a_string(cx, names[which], &a[0], "URL");
    struct url u;
    if (!parse_url(&a[0], &u))
        return 0;
    switch (which) {
    case URL_HOST:
        *o = sl_value_str(u.host.ptr, u.host.len);
        return 0;
    case URL_PORT:
        *o = sl_sv_int((int32_t)(u.port >= 0 ? u.port : default_port(&u)));
        return 0;
    case URL_PROTOCOL:
        return sl_fcx_str(cx, u.proto, strlen(u.proto), o);
    default:
        *o = sl_value_str(u.path.ptr, u.path.len);
        return 0;
    }
}

static int f_url_to_host(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return url_fn(cx, a, o, URL_HOST);
}
static int f_url_to_port(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return url_fn(cx, a, o, URL_PORT);
}
static int f_url_to_protocol(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return url_fn(cx, a, o, URL_PROTOCOL);
}
static int f_url_to_path(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    (void)n;
    return url_fn(cx, a, o, URL_PATH);
}

/* ---- validators (commons-validator, approximately) ---- */

/* DomainValidator without local names: labels of letters, digits and inner '-' (at most 63),
 * at least two labels, an optional trailing dot, and a top-level domain that is a rule of the
 * public suffix list (which lists every IANA TLD); without the list, 2+ letters. */
static bool valid_domain(const char *s, size_t n)
{
    if (n && s[n - 1] == '.')
        n--;
    if (!n || n > 253)
        return false;
    size_t start = 0, labels = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        size_t l = i - start;
        if (!l || l > 63)
            return false;
        for (size_t k = start; k < i; k++) {
            unsigned char c = (unsigned char)s[k];
            if (c < 0x80 && !is_alnum((char)c) && c != '-')
                return false;
        }
        if (s[start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        start = i + 1;
    }
    if (labels < 2)
        return false;
    const char *tld = s + n;
    while (tld > s && tld[-1] != '.')
        tld--;
    size_t tl = (size_t)(s + n - tld);
    char low[64];
    for (size_t i = 0; i < tl; i++) {
        if ((unsigned char)tld[i] < 0x80 && tld[i] >= '0' && tld[i] <= '9' && !i)
            return false;
        low[i] = tld[i] >= 'A' && tld[i] <= 'Z' ? (char)(tld[i] + 32) : tld[i];
    }
    pthread_once(&psl_once, psl_load);
    if (npsl)
        return psl_has(low, tl);
    if (tl < 2)
        return false;
    for (size_t i = 0; i < tl; i++)
        if (!((low[i] >= 'a' && low[i] <= 'z') || (unsigned char)low[i] >= 0x80))
            return false;
    return true;
}

static bool valid_ip4(const char *s, size_t n)
{
    uint32_t v;
    int bad;
    return java_ip4(s, n, &v, &bad) == 1;
}

static bool valid_ip6(const char *s, size_t n)
{
    struct sl_value ip;
    return !sl_value_ip_parse(sl_str_make(s, n), &ip) && (ip.flags & SL_VF_IP6);
}

/* EmailValidator: a dot-atom local part of at most 64 characters (no blanks, controls or
 * ()<>@,;:\".[] inside an atom), '@', then a domain or a [literal] IP address; no trailing
 * dot. */
static bool valid_email(const char *s, size_t n)
{
    if (!n || n > 320 || s[n - 1] == '.')
        return false;
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    if (!at || at == s || at == s + n - 1)
        return false;
    size_t local = (size_t)(at - s);
    if (local > 64 || s[0] == '.' || at[-1] == '.')
        return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("()<>@,;:\\\"[]", c) || (c == '.' && s[i + 1] == '.'))
            return false;
    }
    const char *d = at + 1;
    size_t dn = n - local - 1;
    if (dn > 2 && d[0] == '[' && d[dn - 1] == ']')
        return valid_ip4(d + 1, dn - 2) || valid_ip6(d + 1, dn - 2);
    return valid_domain(d, dn);
}

/* UrlValidator with its default schemes (http, https, ftp): scheme://authority[path][?query]
 * [#fragment]; the authority [userinfo@]host[:port] with a domain, an IPv4 address or a
 * [v6] literal and a port of at most 5 digits; the path without blanks or "//"; the query
 * without blanks. */
static bool valid_url(const char *s, size_t n)
{
    const char *end = s + n, *c = memchr(s, ':', n);
    if (!c)
        return false;
    size_t sl = (size_t)(c - s);
    if (!((sl == 4 && !strncasecmp(s, "http", 4)) || (sl == 5 && !strncasecmp(s, "https", 5)) ||
          (sl == 3 && !strncasecmp(s, "ftp", 3))))
        return false;
    if (end - c < 3 || c[1] != '/' || c[2] != '/')
        return false;
    const char *a = c + 3, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?' && *ae != '#')
        ae++;
    const char *at = NULL;
    for (const char *q = a; q < ae; q++)
        if (*q == '@')
            at = q;
    if (at) {
        for (const char *q = a; q < at; q++)
            if ((unsigned char)*q <= ' ' || *q == '@')
                return false;
        a = at + 1;
    }
    const char *he = ae;
    bool host_ok;
    if (a < ae && *a == '[') {
        const char *rb = memchr(a, ']', (size_t)(ae - a));
        if (!rb)
            return false;
        host_ok = valid_ip6(a + 1, (size_t)(rb - a - 1));
        he = rb + 1;
    } else {
        const char *pc = memchr(a, ':', (size_t)(ae - a));
        if (pc)
            he = pc;
        host_ok = valid_ip4(a, (size_t)(he - a)) || valid_domain(a, (size_t)(he - a));
    }
    if (!host_ok)
        return false;
    if (he < ae) {
        if (*he != ':' || ae - he < 2 || ae - he > 6)
            return false;
        long port = 0;
        for (const char *q = he + 1; q < ae; q++) {
            if (*q < '0' || *q > '9')
                return false;
            port = port * 10 + (*q - '0');
        }
        if (port > 65535)
            return false;
    }
    const char *hash = memchr(ae, '#', (size_t)(end - ae));
    const char *stop = hash ? hash : end;
    for (const char *q = ae; q < stop; q++) {
        if ((unsigned char)*q <= ' ' || *q == 0x7f)
            return false;
        if (*q == '/' && q + 1 < stop && q[1] == '/' && !memchr(ae, '?', (size_t)(q - ae)))
            return false;
    }
    return true;
}

/* IS_DOMAIN, IS_EMAIL, IS_URL are Metron predicates over every argument: true only when
 * each one is non-null and valid (toString() for non-strings). */
static int validate_all(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o,
                        bool (*valid)(const char *, size_t))
{
    bool r = n > 0;
    for (int i = 0; i < n && r; i++) {
        if (a[i].type == SL_V_NULL) {
            r = false;
        } else if (a[i].type == SL_V_STRING) {
            r = valid(a[i].u.s, a[i].len);
        } else {
            struct sl_buf *b = sl_fcx_scratch(cx);
            sl_buf_reset(b);
            int rc = sl_sv_format(&a[i], b);
            if (rc)
                return rc;
            r = valid(b->ptr ? b->ptr : "", b->len);
        }
    }
    *o = sl_value_bool(r);
    return 0;
}

/* IS_IP(ip, type?): type 'IPV4' or 'IPV6' exactly (an enum's valueOf); anything else, or
 * none, accepts either. A null ip is false; a non-string is tested by its toString(). */
static int f_is_ip(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    bool want4 = true, want6 = true;
    if (n > 1 && a[1].type == SL_V_STRING && a[1].len == 4) {
        if (!memcmp(a[1].u.s, "IPV4", 4))
            want6 = false;
        else if (!memcmp(a[1].u.s, "IPV6", 4))
            want4 = false;
    }
    bool r = false;
    if (a[0].type != SL_V_NULL) {
        const char *p = a[0].u.s;
        size_t len = a[0].len;
        if (a[0].type != SL_V_STRING) {
            struct sl_buf *b = sl_fcx_scratch(cx);
            sl_buf_reset(b);
            int rc = sl_sv_format(&a[0], b);
            if (rc)
                return rc;
            p = b->ptr ? b->ptr : "";
            len = b->len;
        }
        r = (want4 && valid_ip4(p, len)) || (want6 && valid_ip6(p, len));
    }
    *o = sl_value_bool(r);
    return 0;
}

static bool valid_domain_v(const char *s, size_t n)
{
    return valid_domain(s, n);
}

static int f_is_domain(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    return validate_all(cx, a, n, o, valid_domain_v);
}

static int f_is_email(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    return validate_all(cx, a, n, o, valid_email);
}

static int f_is_url(struct sl_fcx *cx, const struct sl_value *a, int n, struct sl_value *o)
{
    return validate_all(cx, a, n, o, valid_url);
}

/* ---- PROTOCOL_TO_NAME: Metron's IPProtocolTransformation table, quirks included (88 is
 * "", 4 is "IP-in-IP", gaps where that table has none) ---- */

static const char *const ip_protocols[143] = {
    [1] = "ICMP",
    [2] = "IGMP",
    [3] = "GGP",
    [4] = "IP-in-IP",
    [5] = "ST",
    [6] = "TCP",
    [7] = "CBT",
    [8] = "EGP",
    [9] = "IGP",
    [10] = "BBN-RCC-MON",
    [11] = "NVP-II",
    [12] = "PUP",
    [13] = "ARGUS",
    [14] = "EMCON",
    [15] = "XNET",
    [16] = "CHAOS",
    [17] = "UDP",
    [18] = "MUX",
    [19] = "DCN-MEAS",
    [20] = "HMP",
    [21] = "PRM",
    [22] = "XNS-IDP",
    [23] = "TRUNK-1",
    [24] = "TRUNK-2",
    [25] = "LEAF-1",
    [26] = "LEAF-2",
    [27] = "RDP",
    [28] = "IRTP",
    [29] = "ISO-TP4",
    [30] = "NETBLT",
    [31] = "MFE-NSP",
    [32] = "MERIT-INP",
    [33] = "DCCP",
    [34] = "3PC",
    [35] = "IDPR",
    [36] = "XTP",
    [37] = "DDP",
    [38] = "IDPR-CMTP",
    [39] = "TP++",
    [40] = "IL",
    [41] = "IPv6",
    [42] = "SDRP",
    [43] = "IPv6-Route",
    [44] = "IPv6-Frag",
    [45] = "IDRP",
    [46] = "RSVP",
    [47] = "GRE",
    [48] = "MHRP",
    [49] = "BNA",
    [50] = "ESP",
    [51] = "AH",
    [52] = "I-NLSP",
    [53] = "SWIPE",
    [54] = "NARP",
    [55] = "MOBILE",
    [56] = "TLSP",
    [57] = "SKIP",
    [58] = "IPv6-ICMP",
    [59] = "IPv6-NoNxt",
    [60] = "IPv6-Opts",
    [62] = "CFTP",
    [64] = "SAT-EXPAK",
    [65] = "KRYPTOLAN",
    [66] = "RVD",
    [67] = "IPPC",
    [68] = "SAT-MON",
    [70] = "VISA",
    [71] = "IPCU",
    [72] = "CPNX",
    [73] = "CPHB",
    [74] = "WSN",
    [75] = "PVP",
    [76] = "BR-SAT-MON",
    [77] = "SUN-ND",
    [78] = "WB-MON",
    [79] = "WB-EXPAK",
    [80] = "ISO-IP",
    [81] = "VMTP",
    [82] = "SECURE-VMTP",
    [83] = "VINES",
    [84] = "TTP",
    [85] = "NSFNET-IGP",
    [86] = "DGP",
    [87] = "TCF",
    [88] = "",
    [89] = "OSPF",
    [90] = "Sprite-RP",
    [91] = "LARP",
    [92] = "MTP",
    [93] = "AX.25",
    [94] = "IPIP",
    [95] = "MICP",
    [96] = "SCC-SP",
    [97] = "ETHERIP",
    [98] = "ENCAP",
    [100] = "GMTP",
    [101] = "IFMP",
    [102] = "PNNI",
    [103] = "PIM",
    [104] = "ARIS",
    [105] = "SCPS",
    [106] = "QNX",
    [107] = "A/N",
    [108] = "IPComp",
    [109] = "SNP",
    [110] = "Compaq-Peer",
    [111] = "IPX-in-IP",
    [112] = "VRRP",
    [113] = "PGM",
    [115] = "L2TP",
    [116] = "DDX",
    [117] = "IATP",
    [118] = "STP",
    [119] = "SRP",
    [120] = "UTI",
    [121] = "SMP",
    [122] = "SM",
    [123] = "PTP",
    [124] = "IS-IS",
    [125] = "FIRE",
    [126] = "CRTP",
    [127] = "CRUDP",
    [128] = "SSCOPMCE",
    [129] = "IPLT",
    [130] = "SPS",
    [131] = "PIPE",
    [132] = "SCTP",
    [133] = "FC",
    [134] = "RSVP-E2E-IGNORE",
    [135] = "Mobility Header",
    [136] = "UDPLite",
    [137] = "MPLS-in-IP",
    [138] = "manet",
    [139] = "HIP",
    [140] = "Shim6",
    [141] = "WESP",
    [142] = "ROHC",
};

/* null → null; the number (a number truncated, or a decimal string) → its name; a value that
 * does not convert to an Integer, or a number without a name, is returned as it is. */
static int f_protocol_to_name(struct sl_fcx *cx, const struct sl_value *a, int n,
                              struct sl_value *o)
{
    (void)cx;
    (void)n;
    *o = a[0];
    int64_t num = -1;
    if (sl_sv_is_num(&a[0])) {
        if (a[0].type == SL_V_DOUBLE && !(a[0].u.d > -1 && a[0].u.d < 143))
            return 0;
        num = sl_sv_as_long(&a[0]);
    } else if (a[0].type == SL_V_STRING) {
        if (sl_sv_parse_long(a[0].u.s, a[0].len, &num))
            return 0;
    }
    if (num >= 0 && num < 143 && ip_protocols[num])
        *o = sl_value_str(ip_protocols[num], strlen(ip_protocols[num]));
    return 0;
}

const struct sl_sfunc sl_sfuncs_net[] = {
    {"IN_SUBNET", 2, SL_SF_VARARGS, SL_SF_PURE, "(ip, cidr...)", "Boolean",
     "true if the IPv4 address is in any of the CIDRs, as commons-net 3.1: network and "
     "broadcast addresses excluded, /31 and /32 match only 0.0.0.0, /0 and non-IPv4 are "
     "errors; a null ip is false, null CIDRs are skipped.",
     f_in_subnet},
    {"DOMAIN_TO_TLD", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The public suffix (co.uk for www.google.co.uk); the last label when unknown.",
     f_domain_to_tld},
    {"DOMAIN_REMOVE_TLD", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The domain without its public suffix (www.google for www.google.co.uk); null if invalid.",
     f_domain_remove_tld},
    {"DOMAIN_REMOVE_SUBDOMAINS", 1, 1, SL_SF_PURE, "(domain)", "String",
     "The registrable domain (google.co.uk for www.google.co.uk); null if invalid.",
     f_domain_remove_subdomains},
    {"URL_TO_HOST", 1, 1, SL_SF_PURE, "(url)", "String",
     "Host of a URL; null if java.net.URL would reject it (unknown protocols included).",
     f_url_to_host},
    {"URL_TO_PORT", 1, 1, SL_SF_PURE, "(url)", "Integer",
     "Port of a URL, defaulting by protocol (http 80, https 443, ftp 21, others -1).",
     f_url_to_port},
    {"URL_TO_PROTOCOL", 1, 1, SL_SF_PURE, "(url)", "String", "Protocol of a URL, lower-cased.",
     f_url_to_protocol},
    {"URL_TO_PATH", 1, 1, SL_SF_PURE, "(url)", "String",
     "Path of a URL (without query and fragment; '' when none).", f_url_to_path},
    {"IS_IP", 1, 2, SL_SF_PURE, "(address, 'IPV4'|'IPV6'?)", "Boolean",
     "true for a valid IPv4 or IPv6 address (of the given family; any other type accepts both).",
     f_is_ip},
    {"IS_DOMAIN", 1, SL_SF_VARARGS, SL_SF_PURE, "(string...)", "Boolean",
     "true when every argument is a domain name with a known top-level domain.", f_is_domain},
    {"IS_EMAIL", 1, SL_SF_VARARGS, SL_SF_PURE, "(string...)", "Boolean",
     "true when every argument is an address local@domain.", f_is_email},
    {"IS_URL", 1, SL_SF_VARARGS, SL_SF_PURE, "(string...)", "Boolean",
     "true when every argument is an http, https or ftp URL with a valid host.", f_is_url},
    {"PROTOCOL_TO_NAME", 1, 1, SL_SF_PURE, "(number)", "String",
     "The IANA protocol name of a protocol number (6 is TCP); other values are returned as "
     "they are.",
     f_protocol_to_name},
    {0},
};
