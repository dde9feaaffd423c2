/*
 * grok.c — the grok pattern library and the %{NAME:field:type} expander (grok.h).
 *
 * The built-in patterns mean what Logstash's legacy (non-ECS) pattern set means, so configs
 * written for Logstash's grok filter keep their field names (COMBINEDAPACHELOG: clientip,
 * ident, auth, timestamp, verb, request, httpversion, rawrequest, response, bytes, referrer,
 * agent). They are written here for PCRE2; Logstash runs them on Oniguruma.
 *
 * DESIGN: expansion is a recursive rewrite into an sl_buf capped at SL_GROK_MAX_REGEX_LEN.
 * `%{NAME}` becomes `(?:def)` so an alternation inside a definition stays inside it;
 * `%{NAME:field}` becomes `(?<_gN>def)`. A definition that refers to itself (directly or
 * through others) is stopped by the depth limit rather than by a cycle search: the limit is
 * needed anyway against very deep but acyclic chains, and a config error is all a cycle
 * deserves. Lookups go through an sl_hmap of name -> index (user definitions shadow the
 * built-ins, as pattern_definitions do in Logstash).
 */
#include "codec/grok.h"

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/str.h"

#include <stdio.h>
#include <string.h>

/* clang-format off */
#define IPV4_OCTET "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]{1,2})"
#define H16 "[0-9A-Fa-f]{1,4}"
#define LS32 "(?:" H16 ":" H16 "|" IPV4_OCTET "(?:\\." IPV4_OCTET "){3})"
static const char *const builtins[][2] = {
    {"USERNAME", "[a-zA-Z0-9._-]+"},
    {"USER", "%{USERNAME}"},
    {"EMAILLOCALPART", "[a-zA-Z][a-zA-Z0-9_.+=:-]+"},
    {"EMAILADDRESS", "%{EMAILLOCALPART}@%{HOSTNAME}"},
    {"INT", "(?:[+-]?[0-9]+)"},
    {"BASE10NUM", "(?<![0-9.+-])(?>[+-]?(?:[0-9]+(?:\\.[0-9]+)?|\\.[0-9]+))"},
    {"NUMBER", "(?:%{BASE10NUM})"},
    {"BASE16NUM", "(?<![0-9A-Fa-f])(?:[+-]?(?:0x)?[0-9A-Fa-f]+)"},
    {"POSINT", "\\b(?:[1-9][0-9]*)\\b"},
    {"NONNEGINT", "\\b(?:[0-9]+)\\b"},
    {"WORD", "\\b\\w+\\b"},
    {"NOTSPACE", "\\S+"},
    {"SPACE", "\\s*"},
    {"DATA", ".*?"},
    {"GREEDYDATA", ".*"},
    /* a double-, single- or back-quoted string with backslash escapes, quotes included */
    {"QUOTEDSTRING", "(?>(?<!\\\\)(?>\"(?>\\\\.|[^\\\\\"]+)+\"|\"\"|'(?>\\\\.|[^\\\\']+)+'|''"
                     "|`(?>\\\\.|[^\\\\`]+)+`|``))"},
    {"QS", "%{QUOTEDSTRING}"},
    {"UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"},
    {"CISCOMAC", "(?:(?:[A-Fa-f0-9]{4}\\.){2}[A-Fa-f0-9]{4})"},
    {"WINDOWSMAC", "(?:(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2})"},
    {"COMMONMAC", "(?:(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2})"},
    {"MAC", "(?:%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC})"},
    /* RFC 4291 text forms (RFC 3986's IPv6address), optional %zone */
    {"IPV6", "(?:(?:" H16 ":){6}" LS32
             "|::(?:" H16 ":){5}" LS32
             "|(?:" H16 ")?::(?:" H16 ":){4}" LS32
             "|(?:(?:" H16 ":){0,1}" H16 ")?::(?:" H16 ":){3}" LS32
             "|(?:(?:" H16 ":){0,2}" H16 ")?::(?:" H16 ":){2}" LS32
             "|(?:(?:" H16 ":){0,3}" H16 ")?::" H16 ":" LS32
             "|(?:(?:" H16 ":){0,4}" H16 ")?::" LS32
             "|(?:(?:" H16 ":){0,5}" H16 ")?::" H16
             "|(?:(?:" H16 ":){0,6}" H16 ")?::)(?:%[0-9A-Za-z.]+)?(?![0-9A-Fa-f:])"},
    {"IPV4", "(?<![0-9])(?:" IPV4_OCTET "\\.){3}" IPV4_OCTET "(?![0-9])"},
    {"IP", "(?:%{IPV6}|%{IPV4})"},
    {"HOSTNAME", "\\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
                 "(?:\\.?|\\b)"},
    {"IPORHOST", "(?:%{IP}|%{HOSTNAME})"},
    {"HOSTPORT", "%{IPORHOST}:%{POSINT}"},
    {"UNIXPATH", "(?:/[[:alnum:]_%!$@:.,+~-]*)+"},
    {"WINPATH", "(?>[A-Za-z]+:|\\\\)(?:\\\\[^\\\\?*]*)+"},
    {"PATH", "(?:%{UNIXPATH}|%{WINPATH})"},
    {"URIPROTO", "[A-Za-z][A-Za-z0-9+.-]+"},
    {"URIHOST", "%{IPORHOST}(?::%{POSINT:port})?"},
    {"URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_-]*)+"},
    {"URIPARAM", "\\?[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\\[\\]<>-]*"},
    {"URIPATHPARAM", "%{URIPATH}(?:%{URIPARAM})?"},
    {"URI", "%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATHPARAM})?"},
    {"MONTH", "\\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|\xc3\xa4)?r(?:ch|z)?"
              "|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?"
              "|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\\b"},
    {"MONTHNUM", "(?:0?[1-9]|1[0-2])"},
    {"MONTHNUM2", "(?:0[1-9]|1[0-2])"},
    {"MONTHDAY", "(?:0[1-9]|[12][0-9]|3[01]|[1-9])"},
    {"DAY", "(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?"
            "|Sat(?:urday)?|Sun(?:day)?)"},
    {"YEAR", "(?>\\d\\d){1,2}"},
    {"HOUR", "(?:2[0123]|[01]?[0-9])"},
    {"MINUTE", "(?:[0-5][0-9])"},
    {"SECOND", "(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)"},
    {"TIME", "(?<![0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9])"},
    {"DATE_US", "%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"},
    {"DATE_EU", "%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"},
    {"DATE", "%{DATE_US}|%{DATE_EU}"},
    {"DATESTAMP", "%{DATE}[- ]%{TIME}"},
    {"ISO8601_TIMEZONE", "(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))"},
    {"TIMESTAMP_ISO8601", "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}"
                          "(?::?%{SECOND})?%{ISO8601_TIMEZONE}?"},
    {"TZ", "(?:[APMCE][SD]T|UTC)"},
    {"HTTPDATE", "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"},
    {"SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}"},
    {"PROG", "[\\x21-\\x5a\\x5c\\x5e-\\x7e]+"},
    {"SYSLOGPROG", "%{PROG:program}(?:\\[%{POSINT:pid}\\])?"},
    {"SYSLOGHOST", "%{IPORHOST}"},
    {"SYSLOGFACILITY", "<%{NONNEGINT:facility}.%{NONNEGINT:priority}>"},
    {"SYSLOGBASE", "%{SYSLOGTIMESTAMP:timestamp} (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource} "
                   "%{SYSLOGPROG}:"},
    {"LOGLEVEL", "(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE"
                 "|[Ii]nfo?(?:rmation)?|INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?"
                 "|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL"
                 "|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)"},
    {"HTTPDUSER", "%{EMAILADDRESS}|%{USER}"},
    {"COMMONAPACHELOG", "%{IPORHOST:clientip} %{HTTPDUSER:ident} %{USER:auth} "
                        "\\[%{HTTPDATE:timestamp}\\] \"(?:%{WORD:verb} %{NOTSPACE:request}"
                        "(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})\" "
                        "%{NUMBER:response} (?:%{NUMBER:bytes}|-)"},
    {"COMBINEDAPACHELOG", "%{COMMONAPACHELOG} %{QS:referrer} %{QS:agent}"},
};
/* clang-format on */
#define NBUILTIN (sizeof(builtins) / sizeof(builtins[0]))

struct sl_grok_lib {
    struct sl_hmap names; /* name -> index: < NBUILTIN built-in, else NBUILTIN + user index */
    char **user;          /* user definitions (patterns) */
    size_t nuser, cap;
};

bool sl_grok_builtin(size_t i, const char **name, const char **pattern)
{
    if (i >= NBUILTIN)
        return false;
    *name = builtins[i][0];
    *pattern = builtins[i][1];
    return true;
}

struct sl_grok_lib *sl_grok_lib_new(void)
{
    struct sl_grok_lib *lib = sl_xcalloc(1, sizeof(*lib));
    sl_hmap_init(&lib->names);
    for (size_t i = 0; i < NBUILTIN; i++)
        if (sl_hmap_put(&lib->names, sl_str_c(builtins[i][0]), i))
            sl_assert(!"grok: out of memory building the library");
    return lib;
}

void sl_grok_lib_free(struct sl_grok_lib *lib)
{
    if (!lib)
        return;
    for (size_t i = 0; i < lib->nuser; i++)
        sl_free(lib->user[i]);
    sl_free(lib->user);
    sl_hmap_fini(&lib->names);
    sl_free(lib);
}

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int sl_grok_lib_add(struct sl_grok_lib *lib, const char *name, const char *pattern,
                    struct sl_diag *d)
{
    size_t n = strlen(name);
    if (!n || n > 128)
        return sl_diag_set(d, SL_EINVAL,
                           "grok pattern name '%.140s' must have 1 to 128 "
                           "characters",
                           name);
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i]))
            return sl_diag_set(d, SL_EINVAL,
                               "grok pattern name '%.140s': only letters, digits and _", name);
    if (lib->nuser >= SL_GROK_MAX_DEFS)
        return sl_diag_set(d, SL_E2BIG, "more than %d grok pattern definitions", SL_GROK_MAX_DEFS);
    char *p = sl_strdup(pattern);
    if (!p)
        return SL_ENOMEM;
    if (lib->nuser == lib->cap) {
        size_t cap = lib->cap ? lib->cap * 2 : 8;
        char **u = sl_realloc(lib->user, cap * sizeof(*u));
        if (!u) {
            sl_free(p);
            return SL_ENOMEM;
        }
        lib->user = u;
        lib->cap = cap;
    }
    lib->user[lib->nuser] = p;
    int rc = sl_hmap_put(&lib->names, sl_str_make(name, n), NBUILTIN + lib->nuser);
    if (rc) {
        sl_free(p);
        return rc;
    }
    lib->nuser++;
    return 0;
}

static const char *lookup(const struct sl_grok_lib *lib, struct sl_str name)
{
    uint64_t i;
    if (!sl_hmap_get(&lib->names, name, &i))
        return NULL;
    return i < NBUILTIN ? builtins[i][1] : lib->user[i - NBUILTIN];
}

struct gctx {
    const struct sl_grok_lib *lib;
    struct sl_buf out;
    struct sl_grok *g;
    uint32_t cap_alloc;
    struct sl_diag *d;
    const char *top; /* the user's pattern, for columns */
    size_t top_len;
};

/* Field name as written: `[a][b]` -> `a.b`; else as is. Must be non-empty, no '}' */
static char *field_name(const char *p, size_t n)
{
    if (n >= 2 && p[0] == '[') {
        struct sl_buf b;
        sl_buf_init(&b, 4096);
        size_t i = 0;
        while (i < n) {
            if (p[i] != '[')
                goto bad;
            size_t j = i + 1;
            while (j < n && p[j] != ']')
                j++;
            if (j >= n || j == i + 1)
                goto bad;
            if (b.len && sl_buf_putc(&b, '.'))
                goto bad;
            if (sl_buf_append(&b, p + i + 1, j - i - 1))
                goto bad;
            i = j + 1;
        }
        if (sl_buf_putc(&b, '\0'))
            goto bad;
        return sl_buf_steal(&b, NULL);
    bad:
        sl_buf_fini(&b);
        return NULL;
    }
    return sl_strndup(p, n);
}

static int expand(struct gctx *c, const char *p, size_t n, int depth, bool top);

/* Column (1-based) of q in the top pattern, 0 when q is inside a definition. */
static uint32_t col_of(const struct gctx *c, const char *q, bool top)
{
    return top ? (uint32_t)(q - c->top) + 1 : 0;
}

static int add_capture(struct gctx *c, const char *f, size_t flen, const char *t, size_t tlen,
                       uint32_t *idx)
{
    struct sl_grok *g = c->g;
    if (g->ncaps >= SL_GROK_MAX_CAPTURES)
        return sl_diag_set(c->d, SL_E2BIG, "more than %d grok captures", SL_GROK_MAX_CAPTURES);
    if (g->ncaps == c->cap_alloc) {
        uint32_t cap = c->cap_alloc ? c->cap_alloc * 2 : 16;
        struct sl_grok_capture *a = sl_realloc(g->caps, cap * sizeof(*a));
        if (!a)
            return SL_ENOMEM;
        g->caps = a;
        c->cap_alloc = cap;
    }
    struct sl_grok_capture *cp = &g->caps[g->ncaps];
    cp->field = field_name(f, flen);
    cp->type = t ? sl_strndup(t, tlen) : NULL;
    if (!cp->field || (t && !cp->type)) {
        sl_free(cp->field);
        sl_free(cp->type);
        return SL_ENOMEM;
    }
    *idx = g->ncaps++;
    return 0;
}

static int put(struct gctx *c, const void *p, size_t n)
{
    int rc = sl_buf_append(&c->out, p, n);
    if (rc == SL_E2BIG)
        return sl_diag_set(c->d, SL_E2BIG, "the expanded grok pattern exceeds %u bytes",
                           SL_GROK_MAX_REGEX_LEN);
    return rc;
}

/* One %{...} at p[0..n) (without %{ and }), q = position of the % for columns. */
static int reference(struct gctx *c, const char *body, size_t n, const char *q, int depth, bool top)
{
    size_t i = 0;
    while (i < n && name_char(body[i]))
        i++;
    if (memchr(body, '\0', n)) {
        c->d->col = col_of(c, q, top);
        return sl_diag_set(c->d, SL_EPARSE, "a NUL byte in a grok reference");
    }
    if (i == 0 || (i < n && body[i] != ':')) {
        c->d->col = col_of(c, q, top);
        return sl_diag_set(c->d, SL_EPARSE,
                           "bad grok reference %%{%.*s}: the name must be "
                           "letters, digits and _",
                           (int)(n > 100 ? 100 : n), body);
    }
    struct sl_str name = sl_str_make(body, i);
    const char *def = lookup(c->lib, name);
    if (!def) {
        c->d->col = col_of(c, q, top);
        return sl_diag_set(c->d, SL_EPARSE, "unknown grok pattern %%{%.*s}",
                           (int)(i > 128 ? 128 : i), body);
    }
    const char *field = NULL, *type = NULL;
    size_t flen = 0, tlen = 0;
    if (i < n) {
        field = body + i + 1;
        const char *e = memchr(field, ':', n - i - 1);
        flen = e ? (size_t)(e - field) : n - i - 1;
        if (e) {
            type = e + 1;
            tlen = (size_t)(body + n - type);
        }
        if (!flen || (type && !tlen)) {
            c->d->col = col_of(c, q, top);
            return sl_diag_set(c->d, SL_EPARSE, "grok reference %%{%.*s}: empty %s",
                               (int)(n > 100 ? 100 : n), body, flen ? "type" : "field name");
        }
    }
    if (depth >= SL_GROK_MAX_DEPTH) {
        c->d->col = col_of(c, q, top);
        return sl_diag_set(c->d, SL_E2BIG,
                           "grok pattern %%{%.*s} nests more than %d deep (a definition that "
                           "refers to itself?)",
                           (int)(i > 128 ? 128 : i), body, SL_GROK_MAX_DEPTH);
    }
    int rc;
    if (field) {
        uint32_t idx = 0;
        if ((rc = add_capture(c, field, flen, type, tlen, &idx)))
            return rc;
        char grp[32];
        int gl = snprintf(grp, sizeof(grp), "(?<_g%u>", idx);
        rc = put(c, grp, (size_t)gl);
    } else {
        rc = put(c, "(?:", 3);
    }
    if (rc || (rc = expand(c, def, strlen(def), depth + 1, false)))
        return rc;
    return put(c, ")", 1);
}

static int expand(struct gctx *c, const char *p, size_t n, int depth, bool top)
{
    size_t i = 0, lit = 0;
    int rc;
    while (i < n) {
        if (p[i] == '\\' && i + 1 < n) {
            i += 2; /* an escaped character, `\%` included, stays as it is */
            continue;
        }
        if (p[i] == '%' && i + 1 < n && p[i + 1] == '{') {
            const char *e = memchr(p + i + 2, '}', n - i - 2);
            if (!e) {
                c->d->col = col_of(c, p + i, top);
                return sl_diag_set(c->d, SL_EPARSE, "unterminated %%{ in grok pattern");
            }
            if ((rc = put(c, p + lit, i - lit)))
                return rc;
            size_t blen = (size_t)(e - (p + i + 2));
            if ((rc = reference(c, p + i + 2, blen, p + i, depth, top)))
                return rc;
            i += blen + 3;
            lit = i;
            continue;
        }
        i++;
    }
    return put(c, p + lit, n - lit);
}

int sl_grok_compile(const struct sl_grok_lib *lib, const char *pat, size_t len, struct sl_grok *out,
                    struct sl_diag *d)
{
    memset(out, 0, sizeof(*out));
    struct gctx c = {.lib = lib, .g = out, .d = d, .top = pat, .top_len = len};
    sl_buf_init(&c.out, SL_GROK_MAX_REGEX_LEN);
    int rc = expand(&c, pat, len, 0, true);
    if (!rc)
        rc = sl_buf_putc(&c.out, '\0');
    if (rc) {
        sl_buf_fini(&c.out);
        return rc;
    }
    out->regex_len = c.out.len - 1;
    out->regex = sl_buf_steal(&c.out, NULL);
    return 0;
}

void sl_grok_fini(struct sl_grok *g)
{
    for (uint32_t i = 0; i < g->ncaps; i++) {
        sl_free(g->caps[i].field);
        sl_free(g->caps[i].type);
    }
    sl_free(g->caps);
    sl_free(g->regex);
    memset(g, 0, sizeof(*g));
}
