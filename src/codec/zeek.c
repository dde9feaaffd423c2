/*
 * zeek.c — Zeek TSV and JSON log lines into events (see zeek.h).
 *
 * DESIGN: the header state is small and heap-owned (column names as Zeek spells them and
 * their types); the event field names (symbols) are derived from it lazily, at the first data
 * line after a header changed, because Zeek writes #path before #fields but a hand-made file
 * may not. Data lines are split in place: values without a backslash stay views into the
 * line (which the caller put in batch memory), escaped ones are decoded into the batch
 * arena. Renaming goes through sl_netevent_has_field() so the schema's field tables in
 * netevent.c stay the one place that knows the names.
 */
#include "codec/zeek.h"

#include "base/alloc.h"
#include "codec/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ztype { ZT_STRING, ZT_TIME, ZT_INT, ZT_COUNT, ZT_DOUBLE, ZT_BOOL };

struct zcol {
    char *name; /* Zeek's */
    sl_sym sym; /* the event's */
    uint8_t type;
    bool list;
};

#define SEP_MAX 16u

struct sl_zeek {
    enum sl_netevent_type type;
    bool dirty; /* column symbols must be derived again */
    char sep[SEP_MAX], set_sep[SEP_MAX], empty[SEP_MAX], unset[SEP_MAX];
    size_t sep_len, set_sep_len, empty_len, unset_len;
    struct zcol *cols;
    uint32_t ncols;
    bool unique; /* the columns' symbols are distinct: append without looking */
    sl_sym ts_sym, type_sym;
    /* JSON lines of a typed log: rename[sym] = the schema's symbol + 1 (0: not looked up),
     * for rename_type */
    sl_sym *rename;
    uint32_t rename_cap;
    enum sl_netevent_type rename_type;
};

#define RENAME_MAX (1u << 20)

static const struct {
    const char *path;
    enum sl_netevent_type type;
} path_types[] = {
    {"conn", SL_NETEVENT_GENERAL},     {"ftp", SL_NETEVENT_FTP},
    {"http", SL_NETEVENT_HTTP},        {"ldap", SL_NETEVENT_LDAP},
    {"ldap_search", SL_NETEVENT_LDAP}, {"smb_files", SL_NETEVENT_SMB},
    {"smb_mapping", SL_NETEVENT_SMB},  {"smtp", SL_NETEVENT_SMTP},
    {"dce_rpc", SL_NETEVENT_DCE_RPC},  {"tds", SL_NETEVENT_TDS},
    {"tds_rpc", SL_NETEVENT_TDS},      {"tds_sql_batch", SL_NETEVENT_TDS},
};

static enum sl_netevent_type type_of_path(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof(path_types) / sizeof(path_types[0]); i++)
        if (strlen(path_types[i].path) == n && memcmp(path_types[i].path, p, n) == 0)
            return path_types[i].type;
    if (n >= 3 && memcmp(p, "tds", 3) == 0) /* tds, tds_rpc, tds_sql_batch */
        return SL_NETEVENT_TDS;
    return SL_NETEVENT_NONE;
}

static bool name_sep(char c)
{
    return c == '.' || c == '_' || c == '-';
}

/* The log path in a file name: the rightmost known path that stands as a word of it ("conn.log",
 * "conn.00:00:00-01:00:00.log", "host1_http.json.log"), followed by a dot or the end. */
static enum sl_netevent_type type_of_name(const char *base)
{
    size_t n = strlen(base), best_end = 0;
    enum sl_netevent_type best = SL_NETEVENT_NONE;
    for (size_t i = 0; i < sizeof(path_types) / sizeof(path_types[0]); i++) {
        size_t k = strlen(path_types[i].path);
        for (size_t at = 0; at + k <= n; at++) {
            if (memcmp(base + at, path_types[i].path, k) != 0)
                continue;
            if (at && !name_sep(base[at - 1]))
                continue;
            if (at + k < n && base[at + k] != '.')
                continue;
            if (at + k >= best_end) {
                best_end = at + k;
                best = path_types[i].type;
            }
        }
    }
    return best;
}

static void set_str(char *dst, size_t *len, const char *s, size_t n)
{
    if (n > SEP_MAX)
        n = SEP_MAX;
    memcpy(dst, s, n);
    *len = n;
}

struct sl_zeek *sl_zeek_new(const char *where)
{
    struct sl_zeek *z = sl_xcalloc(1, sizeof(*z));
    set_str(z->sep, &z->sep_len, "\t", 1);
    set_str(z->set_sep, &z->set_sep_len, ",", 1);
    set_str(z->empty, &z->empty_len, "(empty)", 7);
    set_str(z->unset, &z->unset_len, "-", 1);
    z->ts_sym = sl_sym_intern_c("ts");
    z->type_sym = sl_sym_intern_c("type");
    if (where) {
        const char *base = strrchr(where, '/');
        base = base ? base + 1 : where;
        z->type = type_of_name(base);
    }
    return z;
}

static void drop_cols(struct sl_zeek *z)
{
    for (uint32_t i = 0; i < z->ncols; i++)
        sl_free(z->cols[i].name);
    sl_free(z->cols);
    z->cols = NULL;
    z->ncols = 0;
}

void sl_zeek_free(struct sl_zeek *z)
{
    if (!z)
        return;
    drop_cols(z);
    sl_free(z->rename);
    sl_free(z);
}

enum sl_netevent_type sl_zeek_type(const struct sl_zeek *z)
{
    return z->type;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode \xHH and \\ into out (room for n bytes); other backslashes stay. Returns the length. */
static size_t unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && hexval(p[i + 2]) >= 0 &&
            hexval(p[i + 3]) >= 0) {
            out[o++] = (char)(hexval(p[i + 2]) * 16 + hexval(p[i + 3]));
            i += 3;
        } else if (p[i] == '\\' && i + 1 < n && p[i + 1] == '\\') {
            out[o++] = '\\';
            i++;
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

/* ---- names */

static bool is(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* The event's name for Zeek's column name: the schema's when a typed log's schema has it. */
static sl_sym map_name(enum sl_netevent_type t, const char *p, size_t n)
{
    if (t == SL_NETEVENT_NONE)
        return sl_sym_intern(p, n);
    static const char *const ids[][2] = {
        {"id.orig_h", "origIp"},   {"id.orig_p", "origPort"}, {"id.resp_h", "respIp"},
        {"id.resp_p", "respPort"}, {"id_orig_h", "origIp"},   {"id_orig_p", "origPort"},
        {"id_resp_h", "respIp"},   {"id_resp_p", "respPort"},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (is(p, n, ids[i][0]))
            return sl_sym_intern_c(ids[i][1]);
    char camel[128];
    size_t o = 0;
    bool up = false;
    for (size_t i = 0; i < n && o < sizeof(camel); i++) {
        char c = p[i];
        if (c == '.' || c == '_') {
            up = o > 0;
            continue;
        }
        camel[o++] = up && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
        up = false;
    }
    if (o && o < sizeof(camel) && sl_netevent_has_field(t, camel, o))
        return sl_sym_intern(camel, o);
    return sl_sym_intern(p, n);
}

static int prepare(struct sl_zeek *z, struct sl_diag *d)
{
    for (uint32_t i = 0; i < z->ncols; i++) {
        z->cols[i].sym = map_name(z->type, z->cols[i].name, strlen(z->cols[i].name));
        if (!z->cols[i].sym)
            return sl_diag_set(d, SL_ELIMIT, "too many distinct field names");
    }
    z->unique = true;
    for (uint32_t i = 0; i < z->ncols && z->unique; i++) {
        if (z->cols[i].sym == z->type_sym && z->type != SL_NETEVENT_NONE)
            z->unique = false; /* a `type` column replaces the one put first */
        for (uint32_t j = 0; j < i; j++)
            if (z->cols[j].sym == z->cols[i].sym)
                z->unique = false;
    }
    z->dirty = false;
    return 0;
}

/* ---- headers */

static enum ztype parse_type(const char *p, size_t n, bool *list)
{
    *list = false;
    size_t open = n > 5 && memcmp(p, "set[", 4) == 0      ? 4
                  : n > 8 && memcmp(p, "vector[", 7) == 0 ? 7
                                                          : 0;
    if (open && p[n - 1] == ']') {
        *list = true;
        p += open;
        n -= open + 1;
    }
    if (is(p, n, "time"))
        return ZT_TIME;
    if (is(p, n, "int"))
        return ZT_INT;
    if (is(p, n, "count") || is(p, n, "port"))
        return ZT_COUNT;
    if (is(p, n, "double") || is(p, n, "interval"))
        return ZT_DOUBLE;
    if (is(p, n, "bool"))
        return ZT_BOOL;
    return ZT_STRING;
}

/* Next sep-separated piece of [*at, end): sets *pn, advances *at past the separator. */
static const char *next_piece(const char **at, const char *end, const char *sep, size_t sep_len,
                              size_t *pn, bool *more)
{
    const char *s = *at;
    const char *q = s;
    if (sep_len == 1) { /* the usual tab or comma */
        q = memchr(s, sep[0], (size_t)(end - s));
        *more = q != NULL;
        *pn = (size_t)((q ? q : end) - s);
        *at = q ? q + 1 : end;
        return s;
    }
    while ((size_t)(end - q) >= sep_len) {
        if (memcmp(q, sep, sep_len) == 0) {
            *pn = (size_t)(q - s);
            *at = q + sep_len;
            *more = true;
            return s;
        }
        q++;
    }
    *pn = (size_t)(end - s);
    *at = end;
    *more = false;
    return s;
}

static uint32_t count_pieces(const char *p, size_t n, const char *sep, size_t sep_len)
{
    uint32_t k = 1;
    if (sep_len == 1) {
        for (const char *q = p, *end = p + n; (q = memchr(q, sep[0], (size_t)(end - q))); q++)
            k++;
        return k;
    }
    for (size_t i = 0; i + sep_len <= n;) {
        if (memcmp(p + i, sep, sep_len) == 0) {
            k++;
            i += sep_len;
        } else {
            i++;
        }
    }
    return k;
}

static int header_fields(struct sl_zeek *z, const char *p, size_t n, struct sl_diag *d)
{
    uint32_t k = count_pieces(p, n, z->sep, z->sep_len);
    if (k > SL_ZEEK_MAX_COLUMNS)
        return sl_diag_set(d, SL_E2BIG, "#fields: %u columns (at most %u)", k, SL_ZEEK_MAX_COLUMNS);
    drop_cols(z);
    z->cols = sl_xcalloc(k, sizeof(*z->cols));
    z->ncols = k;
    const char *at = p, *end = p + n;
    for (uint32_t i = 0; i < k; i++) {
        size_t len;
        bool more;
        const char *s = next_piece(&at, end, z->sep, z->sep_len, &len, &more);
        if (!len) { /* no half-made header: data lines wait for a good #fields */
            drop_cols(z);
            return sl_diag_set(d, SL_EPARSE, "#fields: empty name in column %u", i + 1);
        }
        z->cols[i].name = sl_xstrndup(s, len);
        z->cols[i].type = ZT_STRING;
    }
    z->dirty = true;
    return 0;
}

static int header_types(struct sl_zeek *z, const char *p, size_t n, struct sl_diag *d)
{
    uint32_t k = count_pieces(p, n, z->sep, z->sep_len);
    if (k != z->ncols)
        return sl_diag_set(d, SL_EPARSE, "#types has %u columns, #fields %u", k, z->ncols);
    const char *at = p, *end = p + n;
    for (uint32_t i = 0; i < k; i++) {
        size_t len;
        bool more;
        const char *s = next_piece(&at, end, z->sep, z->sep_len, &len, &more);
        bool list;
        z->cols[i].type = (uint8_t)parse_type(s, len, &list);
        z->cols[i].list = list;
    }
    return 0;
}

static int header(struct sl_zeek *z, const char *p, size_t n, struct sl_diag *d)
{
    char tmp[SEP_MAX * 4];
    if (n > 11 && memcmp(p, "#separator ", 11) == 0) {
        size_t vn = n - 11;
        if (vn > sizeof(tmp))
            return sl_diag_set(d, SL_EPARSE, "#separator too long");
        size_t k = unescape(p + 11, vn, tmp);
        if (!k || k > SEP_MAX)
            return sl_diag_set(d, SL_EPARSE, "bad #separator");
        set_str(z->sep, &z->sep_len, tmp, k);
        return 0;
    }
    const char *at = p, *end = p + n;
    size_t kn;
    bool more;
    const char *key = next_piece(&at, end, z->sep, z->sep_len, &kn, &more);
    const char *v = at;
    size_t vn = (size_t)(end - at);
    if (!more)
        return 0; /* a comment */
    if (is(key, kn, "#set_separator") || is(key, kn, "#empty_field") ||
        is(key, kn, "#unset_field")) {
        if (vn > sizeof(tmp))
            return sl_diag_set(d, SL_EPARSE, "%.*s too long", (int)kn, key);
        size_t k = unescape(v, vn, tmp);
        if (k > SEP_MAX || (!k && key[1] == 's'))
            return sl_diag_set(d, SL_EPARSE, "bad %.*s", (int)kn, key);
        if (key[1] == 's')
            set_str(z->set_sep, &z->set_sep_len, tmp, k);
        else if (key[1] == 'e')
            set_str(z->empty, &z->empty_len, tmp, k);
        else
            set_str(z->unset, &z->unset_len, tmp, k);
        return 0;
    }
    if (is(key, kn, "#path")) {
        z->type = type_of_path(v, vn);
        z->dirty = true;
        return 0;
    }
    if (is(key, kn, "#fields"))
        return header_fields(z, v, vn, d);
    if (is(key, kn, "#types"))
        return header_types(z, v, vn, d);
    return 0; /* #open, #close, anything else */
}

/* ---- values */

static bool same(const char *p, size_t n, const char *lit, size_t lit_len)
{
    return n == lit_len && memcmp(p, lit, n) == 0;
}

static int64_t ts_ns_of(double s)
{
    if (!(s > -9.2e9 && s < 9.2e9))
        return 0;
    return (int64_t)llround(s * 1e6) * 1000;
}

/* "1521911721.255387" as Zeek writes times and intervals: when the digits form an integer
 * below 2^53 and at most 22 of them follow the dot, mantissa and power of ten are exact
 * doubles and their quotient is correctly rounded (Clinger's fast path), so it equals
 * strtod's. Anything else (exponents, long mantissas): false, and strtod decides. */
static bool fast_decimal(const char *p, size_t n, struct sl_value *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = n && p[0] == '-';
    int64_t m = 0;
    int digits = 0, frac = -1;
    for (; i < n; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            if (++digits > 18)
                return false;
            m = m * 10 + (p[i] - '0');
            if (frac >= 0)
                frac++;
        } else if (p[i] == '.' && frac < 0) {
            frac = 0;
        } else {
            return false;
        }
    }
    if (!digits || m > (INT64_C(1) << 53))
        return false;
    double v = (double)m / p10[frac > 0 ? frac : 0];
    *out = sl_value_double(n && p[0] == '-' ? -v : v);
    return true;
}

/* One scalar (escapes not decoded yet) as `type`. */
static int scalar(struct sl_batch *b, enum ztype type, const char *p, size_t n,
                  struct sl_value *out, struct sl_diag *d, const char *col)
{
    if (type == ZT_STRING) {
        if (!memchr(p, '\\', n)) {
            *out = sl_value_str(p, n);
            return 0;
        }
        char *o = sl_arena_alloc_bytes(&b->arena, n ? n : 1);
        if (!o)
            return sl_diag_set(d, SL_ENOMEM, "out of memory");
        *out = sl_value_str(o, unescape(p, n, o));
        return 0;
    }
    if (type == ZT_BOOL) {
        if (n == 1 && (p[0] == 'T' || p[0] == 'F')) {
            *out = sl_value_bool(p[0] == 'T');
            return 0;
        }
        return sl_diag_set(d, SL_EPARSE, "field %s: bad bool '%.*s'", col, (int)(n > 40 ? 40 : n),
                           p);
    }
    if (type == ZT_COUNT || type == ZT_INT) { /* plain digits: no copy, no strtoll */
        size_t i = type == ZT_INT && n > 1 && p[0] == '-';
        if (n - i >= 1 && n - i <= 18) {
            int64_t v = 0;
            size_t j = i;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                v = v * 10 + (p[j++] - '0');
            if (j == n) {
                *out = sl_value_int(i ? -v : v);
                return 0;
            }
        }
    } else if (fast_decimal(p, n, out)) {
        return 0;
    }
    char num[64];
    if (!n || n >= sizeof(num))
        return sl_diag_set(d, SL_EPARSE, "field %s: bad number '%.*s'", col, (int)(n > 40 ? 40 : n),
                           p);
    memcpy(num, p, n);
    num[n] = 0;
    char *e;
    errno = 0;
    if (type == ZT_COUNT || type == ZT_INT) {
        if (type == ZT_COUNT && num[0] == '-')
            errno = EINVAL;
        long long v = strtoll(num, &e, 10);
        if (errno || *e)
            return sl_diag_set(d, SL_EPARSE, "field %s: bad %s '%s'", col,
                               type == ZT_COUNT ? "count" : "int", num);
        *out = sl_value_int(v);
        return 0;
    }
    double v = strtod(num, &e);
    if (*e || !isfinite(v))
        return sl_diag_set(d, SL_EPARSE, "field %s: bad %s '%s'", col,
                           type == ZT_TIME ? "time" : "double", num);
    *out = sl_value_double(v);
    return 0;
}

static int column(struct sl_zeek *z, struct sl_batch *b, const struct zcol *c, const char *p,
                  size_t n, struct sl_value *out, struct sl_diag *d)
{
    if (!c->list) {
        if (same(p, n, z->empty, z->empty_len) && c->type == ZT_STRING) {
            *out = sl_value_str("", 0);
            return 0;
        }
        return scalar(b, (enum ztype)c->type, p, n, out, d, c->name);
    }
    struct sl_value list = {.type = SL_V_LIST};
    if (same(p, n, z->empty, z->empty_len)) {
        list.u.list = NULL;
        *out = list;
        return 0;
    }
    uint32_t k = count_pieces(p, n, z->set_sep, z->set_sep_len);
    struct sl_value *items = sl_arena_alloc(&b->arena, k * sizeof(*items));
    if (!items)
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    const char *at = p, *end = p + n;
    for (uint32_t i = 0; i < k; i++) {
        size_t len;
        bool more;
        const char *s = next_piece(&at, end, z->set_sep, z->set_sep_len, &len, &more);
        int rc = scalar(b, (enum ztype)c->type, s, len, &items[i], d, c->name);
        if (rc)
            return rc;
    }
    list.len = k;
    list.u.list = items;
    *out = list;
    return 0;
}

static int put_type(struct sl_zeek *z, struct sl_batch *b, struct sl_event *ev)
{
    const char *tn = sl_netevent_type_name(z->type);
    if (!tn)
        return 0;
    return sl_event_set(b, ev, z->type_sym, sl_value_str(tn, strlen(tn)));
}

static int tsv_line(struct sl_zeek *z, struct sl_batch *b, const char *p, size_t n,
                    struct sl_diag *d)
{
    if (!z->ncols)
        return sl_diag_set(d, SL_EPARSE, "data line before the #fields header");
    uint32_t k = count_pieces(p, n, z->sep, z->sep_len);
    if (k != z->ncols)
        return sl_diag_set(d, SL_EPARSE, "%u columns, #fields has %u", k, z->ncols);
    int rc = z->dirty ? prepare(z, d) : 0;
    if (rc)
        return rc;
    struct sl_event *ev = sl_batch_push(b);
    if (!ev)
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    if (z->unique && ev->cap < k + 1) { /* every field at once: no growing, no lookups */
        struct sl_field *f = sl_arena_alloc(&b->arena, (k + 1) * sizeof(*f));
        if (!f) {
            rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
            goto fail;
        }
        ev->fields = f;
        ev->cap = k + 1;
    }
    if (put_type(z, b, ev)) {
        rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
        goto fail;
    }
    const char *at = p, *end = p + n;
    for (uint32_t i = 0; i < k; i++) {
        size_t len;
        bool more;
        const char *s = next_piece(&at, end, z->sep, z->sep_len, &len, &more);
        if (same(s, len, z->unset, z->unset_len))
            continue;
        struct sl_value v;
        const struct zcol *c = &z->cols[i];
        rc = column(z, b, c, s, len, &v, d);
        if (rc)
            goto fail;
        if (c->sym == z->ts_sym && v.type == SL_V_DOUBLE) {
            ev->ts_ns = ts_ns_of(v.u.d);
            if (z->type != SL_NETEVENT_NONE) /* the schema's `ts` is a timestamp */
                v = sl_value_ts(ev->ts_ns);
        }
        if (z->unique) {
            struct sl_field *f = &ev->fields[ev->count++];
            f->sym = c->sym;
            f->_pad = 0;
            f->val = v;
        } else if (sl_event_set(b, ev, c->sym, v)) {
            rc = sl_diag_set(d, SL_ENOMEM, "out of memory");
            goto fail;
        }
    }
    return 0;
fail:
    sl_batch_pop(b);
    return rc;
}

static bool has_sym(const struct sl_event *ev, sl_sym s)
{
    for (uint32_t i = 0; i < ev->count; i++)
        if (ev->fields[i].sym == s)
            return true;
    return false;
}

/* The schema's symbol for s in a typed log, cached per symbol. 0: too many names. */
static sl_sym rename_sym(struct sl_zeek *z, sl_sym s)
{
    if (z->rename_type != z->type) {
        if (z->rename)
            memset(z->rename, 0, z->rename_cap * sizeof(*z->rename));
        z->rename_type = z->type;
    }
    if (s < z->rename_cap && z->rename[s])
        return z->rename[s] - 1;
    struct sl_str name = sl_sym_name(s);
    sl_sym to = map_name(z->type, name.ptr, name.len);
    if (!to || s >= RENAME_MAX)
        return to;
    if (s >= z->rename_cap) {
        uint32_t cap = z->rename_cap ? z->rename_cap : 256;
        while (cap <= s)
            cap *= 2;
        z->rename = sl_xrealloc(z->rename, cap * sizeof(*z->rename));
        memset(z->rename + z->rename_cap, 0, (cap - z->rename_cap) * sizeof(*z->rename));
        z->rename_cap = cap;
    }
    z->rename[s] = to + 1;
    return to;
}

static int json_line(struct sl_zeek *z, struct sl_batch *b, const char *p, size_t n,
                     struct sl_diag *d)
{
    int rc = sl_json_parse_event(b, p, n, NULL, d);
    if (rc)
        return rc;
    struct sl_event *ev = &b->events[b->count - 1];
    for (uint32_t i = 0; i < ev->count; i++) {
        struct sl_field *f = &ev->fields[i];
        if (f->sym == z->ts_sym && f->val.type == SL_V_DOUBLE)
            ev->ts_ns = ts_ns_of(f->val.u.d);
        if (z->type == SL_NETEVENT_NONE)
            continue;
        if (f->sym == z->ts_sym && f->val.type == SL_V_DOUBLE)
            f->val = sl_value_ts(ev->ts_ns);
        sl_sym to = rename_sym(z, f->sym);
        if (!to) {
            sl_batch_pop(b);
            return sl_diag_set(d, SL_ELIMIT, "too many distinct field names");
        }
        if (to != f->sym && !has_sym(ev, to))
            f->sym = to;
    }
    if (z->type == SL_NETEVENT_NONE)
        return 0;
    if (has_sym(ev, z->type_sym)) /* a `type` of the log's own: keep it, add none */
        return 0;
    if (put_type(z, b, ev)) {
        sl_batch_pop(b);
        return sl_diag_set(d, SL_ENOMEM, "out of memory");
    }
    /* `type` first, as the FlatBuffers decoder puts it */
    struct sl_field t = ev->fields[ev->count - 1];
    memmove(ev->fields + 1, ev->fields, (ev->count - 1) * sizeof(*ev->fields));
    ev->fields[0] = t;
    return 0;
}

int sl_zeek_parse_line(struct sl_zeek *z, struct sl_batch *b, const char *p, size_t n,
                       struct sl_diag *d)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\r'))
        i++;
    if (i < n && p[i] == '{')
        return json_line(z, b, p, n, d);
    if (n && p[0] == '#')
        return header(z, p, n, d);
    return tsv_line(z, b, p, n, d);
}
