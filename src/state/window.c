/*
 * window.c — the window selector language of PROFILE_WINDOW (Metron's Window.g4 and
 * WindowProcessor), parsed by hand.
 *
 * Grammar (keywords in either all-lower or all-upper case in Metron; any case here):
 *
 *   window     := width [ 'every' interval duration ] [ including ] [ excluding ] EOF
 *               | duration EOF
 *   width      := interval [ 'window' | 'windows' ]
 *   duration   := from interval [ 'ago' ] [ to interval [ 'ago' ] ]
 *   from       := 'from' | 'starting from';   to := 'to' | 'until'
 *   interval   := NUMBER unit              NUMBER: [1-9][0-9]*, at most 2^31-1
 *   unit       := second | minute | hour | day, with 's' or '(s)'
 *   including  := ('include' | 'includes' | 'including') specs
 *   excluding  := ('exclude' | 'excludes' | 'excluding') specs
 *   specs      := spec { ',' spec }
 *   spec       := day { ':' arg }           (the argument tokens are ':word')
 *   day        := monday..sunday (+s) | weekday(s) | weekend(s) | holiday(s) | date
 *               | 'this day of week' | 'this day of the week'
 *
 * DESIGN: a lexer that knows the multi-word keywords, then a recursive-descent parser with
 * one token of lookahead that fills a flat `struct sl_window` (no AST: the language has no
 * nesting). Semantics, as Window.toIntervals: `<w>` alone is [now-w, now]; `from x ago to y
 * ago` is [now-max(x,y), now-min(x,y)]; with `<w> every <s>` the intervals are [left,
 * left+w] for left = start, start+s, ... while left+w <= end. An interval is kept when its
 * left end matches some inclusion (or there is none) and no exclusion. Differences from
 * Metron: interval arithmetic is 64-bit (Metron casts milliseconds to int, so 25 days and
 * more overflow there); `holidays` is refused (no holiday calendar); `date:` formats accept
 * the pattern letters y, M and d and literal separators.
 */
#include "state/window.h"

#include "base/alloc.h"
#include "base/str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MAX_SPECS  32
#define MAX_TOKENS 512
#define DAY_MS     86400000LL

enum tok {
    T_EOF,
    T_COMMA,
    T_COLON,
    T_WINDOW,
    T_INCLUDE,
    T_EXCLUDE,
    T_NOW,
    T_FROM,
    T_EVERY,
    T_TO,
    T_AGO,
    T_NUMBER,
    T_IDENT,
    T_DAY,
    T_UNIT,
};

/* day specifiers; 1..7 are Calendar.DAY_OF_WEEK (1 = Sunday) */
enum day {
    D_WEEKDAY = 8,
    D_WEEKEND,
    D_HOLIDAY,
    D_DATE,
    D_THIS_DAY,
};

struct token {
    enum tok kind;
    size_t pos, len;
    int64_t val; /* NUMBER: the amount; UNIT: milliseconds; DAY: enum day or 1..7 */
};

struct spec {
    int kind;    /* enum day or 1..7 */
    int64_t day; /* D_DATE: days since the epoch */
};

enum shape { W_WIDTH, W_REPEAT, W_DENSE };

struct sl_window {
    enum shape shape;
    int64_t width_ms, skip_ms, from_ms, to_ms;
    struct spec inc[MAX_SPECS], exc[MAX_SPECS];
    size_t ninc, nexc;
};

struct parser {
    const char *src;
    size_t len;
    struct token toks[MAX_TOKENS];
    size_t ntoks, at;
    struct sl_diag *d;
};

static int fail_at(struct parser *p, size_t pos, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record an error at byte offset pos of the selector (column pos + 1). Returns err. */
static int fail_at(struct parser *p, size_t pos, int err, const char *fmt, ...)
{
    if (p->d) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        sl_diag_set(p->d, err, "%s", msg);
        p->d->col = (uint32_t)(pos + 1);
    }
    return err;
}

/* ------------------------------------------------------------------ lexer */

struct word {
    const char *text;
    enum tok kind;
    int64_t val;
};

static const struct word words[] = {
    {"window", T_WINDOW, 0},
    {"windows", T_WINDOW, 0},
    {"include", T_INCLUDE, 0},
    {"includes", T_INCLUDE, 0},
    {"including", T_INCLUDE, 0},
    {"exclude", T_EXCLUDE, 0},
    {"excludes", T_EXCLUDE, 0},
    {"excluding", T_EXCLUDE, 0},
    {"now", T_NOW, 0},
    {"from", T_FROM, 0},
    {"every", T_EVERY, 0},
    {"to", T_TO, 0},
    {"until", T_TO, 0},
    {"ago", T_AGO, 0},
    {"second", T_UNIT, 1000},
    {"seconds", T_UNIT, 1000},
    {"second(s)", T_UNIT, 1000},
    {"minute", T_UNIT, 60000},
    {"minutes", T_UNIT, 60000},
    {"minute(s)", T_UNIT, 60000},
    {"hour", T_UNIT, 3600000},
    {"hours", T_UNIT, 3600000},
    {"hour(s)", T_UNIT, 3600000},
    {"day", T_UNIT, DAY_MS},
    {"days", T_UNIT, DAY_MS},
    {"day(s)", T_UNIT, DAY_MS},
    {"sunday", T_DAY, 1},
    {"sundays", T_DAY, 1},
    {"monday", T_DAY, 2},
    {"mondays", T_DAY, 2},
    {"tuesday", T_DAY, 3},
    {"tuesdays", T_DAY, 3},
    {"wednesday", T_DAY, 4},
    {"wednesdays", T_DAY, 4},
    {"thursday", T_DAY, 5},
    {"thursdays", T_DAY, 5},
    {"friday", T_DAY, 6},
    {"fridays", T_DAY, 6},
    {"saturday", T_DAY, 7},
    {"saturdays", T_DAY, 7},
    {"weekday", T_DAY, D_WEEKDAY},
    {"weekdays", T_DAY, D_WEEKDAY},
    {"weekend", T_DAY, D_WEEKEND},
    {"weekends", T_DAY, D_WEEKEND},
    {"holiday", T_DAY, D_HOLIDAY},
    {"holidays", T_DAY, D_HOLIDAY},
    {"date", T_DAY, D_DATE},
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

/* Match the words of `phrase` (single spaces in it, one or more blanks in the input) at i,
 * case-insensitively, ending at a word boundary. Returns the length matched or 0. */
static size_t match_phrase(const char *s, size_t n, size_t i, const char *phrase)
{
    size_t j = i;
    for (const char *q = phrase; *q; q++) {
        if (*q == ' ') {
            if (j >= n || !is_ws(s[j]))
                return 0;
            while (j < n && is_ws(s[j]))
                j++;
            continue;
        }
        if (j >= n || tolower((unsigned char)s[j]) != *q)
            return 0;
        j++;
    }
    if (j < n && isalpha((unsigned char)s[j]))
        return 0;
    return j - i;
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '/';
}

static int lex(struct parser *p)
{
    const char *s = p->src;
    size_t n = p->len, i = 0;
    for (;;) {
        while (i < n && is_ws(s[i]))
            i++;
        if (p->ntoks == MAX_TOKENS)
            return fail_at(p, i, SL_EPARSE, "window selector too long (more than %d tokens)",
                           MAX_TOKENS);
        struct token *t = &p->toks[p->ntoks++];
        t->pos = i;
        t->val = 0;
        if (i >= n) {
            t->kind = T_EOF;
            t->len = 0;
            return 0;
        }
        char c = s[i];
        if (c == ',') {
            t->kind = T_COMMA;
            t->len = 1;
            i++;
        } else if (c == ':') {
            size_t j = i + 1;
            if (j < n && isalnum((unsigned char)s[j])) {
                while (j < n && ident_char(s[j]))
                    j++;
                t->kind = T_IDENT;
            } else {
                t->kind = T_COLON;
            }
            t->len = j - i;
            i = j;
        } else if (c >= '1' && c <= '9') {
            size_t j = i;
            int64_t v = 0;
            while (j < n && isdigit((unsigned char)s[j])) {
                if (v <= INT32_MAX)
                    v = v * 10 + (s[j] - '0');
                j++;
            }
            if (v > INT32_MAX)
                return fail_at(p, i, SL_EPARSE, "amount %.*s is too large (at most 2147483647)",
                               (int)(j - i > 20 ? 20 : j - i), s + i);
            t->kind = T_NUMBER;
            t->val = v;
            t->len = j - i;
            i = j;
        } else if (isalpha((unsigned char)c)) {
            size_t m;
            if ((m = match_phrase(s, n, i, "starting from"))) {
                t->kind = T_FROM;
            } else if ((m = match_phrase(s, n, i, "this day of the week")) ||
                       (m = match_phrase(s, n, i, "this day of week"))) {
                t->kind = T_DAY;
                t->val = D_THIS_DAY;
            } else {
                size_t j = i;
                while (j < n && isalpha((unsigned char)s[j]))
                    j++;
                if (j + 2 < n && s[j] == '(' && (s[j + 1] == 's' || s[j + 1] == 'S') &&
                    s[j + 2] == ')')
                    j += 3;
                m = j - i;
                const struct word *w = NULL;
                for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
                    if (strlen(words[k].text) == m && !strncasecmp(words[k].text, s + i, m)) {
                        w = &words[k];
                        break;
                    }
                if (!w) {
                    if (p->d) {
                        sl_diag_set(p->d, SL_EPARSE, "unknown word '%.*s' in window selector",
                                    (int)(m > 40 ? 40 : m), s + i);
                        p->d->col = (uint32_t)(i + 1);
                    }
                    return SL_EPARSE;
                }
                t->kind = w->kind;
                t->val = w->val;
            }
            t->len = m;
            i += m;
        } else {
            if (p->d) {
                if (isprint((unsigned char)c))
                    sl_diag_set(p->d, SL_EPARSE, "unexpected character '%c' in window selector", c);
                else
                    sl_diag_set(p->d, SL_EPARSE, "unexpected byte 0x%02x in window selector",
                                (unsigned char)c);
                p->d->col = (uint32_t)(i + 1);
            }
            return SL_EPARSE;
        }
    }
}

/* ------------------------------------------------------------------ parser */

static const struct token *peek(struct parser *p)
{
    return &p->toks[p->at];
}

static const struct token *next(struct parser *p)
{
    const struct token *t = &p->toks[p->at];
    if (t->kind != T_EOF)
        p->at++;
    return t;
}

static int unexpected(struct parser *p, const char *expected)
{
    const struct token *t = peek(p);
    if (p->d) {
        if (t->kind == T_EOF)
            sl_diag_set(p->d, SL_EPARSE, "expected %s but the selector ended", expected);
        else
            sl_diag_set(p->d, SL_EPARSE, "expected %s but found '%.*s'", expected,
                        (int)(t->len > 40 ? 40 : t->len), p->src + t->pos);
        p->d->col = (uint32_t)(t->pos + 1);
    }
    return SL_EPARSE;
}

/* interval := NUMBER unit */
static int interval(struct parser *p, int64_t *ms)
{
    if (peek(p)->kind != T_NUMBER)
        return unexpected(p, "a positive whole number");
    int64_t amount = next(p)->val;
    if (peek(p)->kind != T_UNIT)
        return unexpected(p, "a time unit (second, minute, hour or day)");
    *ms = amount * next(p)->val;
    return 0;
}

/* duration := from interval ['ago'] [to interval ['ago']] */
static int duration(struct parser *p, struct sl_window *w)
{
    if (peek(p)->kind != T_FROM)
        return unexpected(p, "'from'");
    next(p);
    int rc = interval(p, &w->from_ms);
    if (rc)
        return rc;
    if (peek(p)->kind == T_AGO)
        next(p);
    w->to_ms = 0;
    if (peek(p)->kind == T_TO) {
        next(p);
        if ((rc = interval(p, &w->to_ms)))
            return rc;
        if (peek(p)->kind == T_AGO)
            next(p);
    }
    return 0;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parse `date` with a SimpleDateFormat-like pattern of y, M, d and literals. */
static bool parse_date(struct sl_str date, struct sl_str fmt, int64_t *day)
{
    int64_t f[3] = {-1, -1, -1}; /* y M d */
    size_t i = 0, k = 0;
    while (k < fmt.len) {
        char c = fmt.ptr[k];
        size_t run = 1;
        while (k + run < fmt.len && fmt.ptr[k + run] == c)
            run++;
        if (c == 'y' || c == 'M' || c == 'd') {
            /* abutting numeric fields read exactly `run` digits, else greedily */
            bool abut = k + run < fmt.len && (fmt.ptr[k + run] == 'y' || fmt.ptr[k + run] == 'M' ||
                                              fmt.ptr[k + run] == 'd');
            size_t max = abut ? run : 9, got = 0;
            int64_t v = 0;
            while (i < date.len && got < max && isdigit((unsigned char)date.ptr[i])) {
                v = v * 10 + (date.ptr[i++] - '0');
                got++;
            }
            if (!got || (abut && got != run))
                return false;
            f[c == 'y' ? 0 : c == 'M' ? 1 : 2] = v;
        } else if (isalpha((unsigned char)c)) {
            return false; /* pattern letters other than y, M, d are not supported */
        } else {
            for (size_t r = 0; r < run; r++, i++)
                if (i >= date.len || date.ptr[i] != c)
                    return false;
        }
        k += run;
    }
    if (f[0] < 0 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[0] > 999999)
        return false;
    *day = days_from_civil(f[0], f[1], f[2]);
    return true;
}

/* specs := spec {',' spec} */
static int specs(struct parser *p, struct spec *out, size_t *count)
{
    for (;;) {
        if (peek(p)->kind != T_DAY)
            return unexpected(p, "a day specifier (weekdays, weekends, monday.., this day of "
                                 "week, date:yyyy/MM/dd)");
        const struct token *t = next(p);
        if (*count == MAX_SPECS)
            return fail_at(p, t->pos, SL_EPARSE, "too many day specifiers (at most %d)", MAX_SPECS);
        struct spec *sp = &out[(*count)++];
        sp->kind = (int)t->val;
        sp->day = 0;
        struct sl_str args[2] = {{0}};
        size_t nargs = 0;
        while (peek(p)->kind == T_IDENT || peek(p)->kind == T_NUMBER) {
            const struct token *a = next(p);
            if (nargs < 2) {
                /* ':2017/01/01' -> '2017/01/01' */
                size_t skip = a->kind == T_IDENT ? 1 : 0;
                args[nargs] = sl_str_make(p->src + a->pos + skip, a->len - skip);
            }
            nargs++;
        }
        if (sp->kind == D_HOLIDAY)
            return fail_at(p, t->pos, SL_EINVAL,
                           "'%.*s' is not supported: sluice has no holiday calendar", (int)t->len,
                           p->src + t->pos);
        if (sp->kind == D_DATE) {
            if (nargs == 0)
                return fail_at(p, t->pos, SL_EPARSE,
                               "date: you must specify at least a date and optionally a "
                               "format");
            struct sl_str fmt = nargs > 1 ? args[1] : SL_STR("yyyy/MM/dd");
            if (!parse_date(args[0], fmt, &sp->day)) {
                if (p->d) {
                    sl_diag_set(p->d, SL_EPARSE, "unable to process %.*s as a date using %.*s",
                                (int)args[0].len, args[0].ptr, (int)fmt.len, fmt.ptr);
                    p->d->col = (uint32_t)(t->pos + 1);
                }
                return SL_EPARSE;
            }
        }
        if (peek(p)->kind != T_COMMA)
            return 0;
        next(p);
    }
}

int sl_window_parse(const char *src, size_t len, struct sl_window **out, struct sl_diag *d)
{
    *out = NULL;
    struct parser *p = sl_calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    p->src = src;
    p->len = len;
    p->d = d;
    struct sl_window *w = sl_calloc(1, sizeof *w);
    int rc = w ? lex(p) : SL_ENOMEM;
    if (rc)
        goto fail;
    if (peek(p)->kind == T_EOF) {
        rc = unexpected(p, "a window selector (e.g. '1 hour window', 'from 5 hours ago')");
        goto fail;
    }
    if (peek(p)->kind == T_FROM) {
        w->shape = W_DENSE;
        if ((rc = duration(p, w)))
            goto fail;
    } else {
        if (peek(p)->kind != T_NUMBER) {
            rc = unexpected(p, "a number or 'from'");
            goto fail;
        }
        w->shape = W_WIDTH;
        if ((rc = interval(p, &w->width_ms)))
            goto fail;
        if (peek(p)->kind == T_WINDOW)
            next(p);
        if (peek(p)->kind == T_EVERY) {
            next(p);
            w->shape = W_REPEAT;
            if ((rc = interval(p, &w->skip_ms)) || (rc = duration(p, w)))
                goto fail;
        }
        if (peek(p)->kind == T_INCLUDE) {
            next(p);
            if ((rc = specs(p, w->inc, &w->ninc)))
                goto fail;
        }
        if (peek(p)->kind == T_EXCLUDE) {
            next(p);
            if ((rc = specs(p, w->exc, &w->nexc)))
                goto fail;
        }
    }
    if (peek(p)->kind != T_EOF) {
        rc = unexpected(p, w->shape == W_DENSE ? "the end of the selector ('including' and "
                                                 "'excluding' need a window width)"
                                               : "the end of the selector");
        goto fail;
    }
    sl_free(p);
    *out = w;
    return 0;
fail:
    sl_free(p);
    sl_free(w);
    return rc;
}

void sl_window_free(struct sl_window *w)
{
    sl_free(w);
}

/* ------------------------------------------------------------------ intervals */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Calendar.DAY_OF_WEEK in UTC: 1 = Sunday .. 7 = Saturday (1970-01-01 was a Thursday) */
static int day_of_week(int64_t ms)
{
    int64_t days = floor_div(ms, DAY_MS);
    return (int)(((days % 7) + 7 + 4) % 7) + 1;
}

static bool spec_test(const struct spec *sp, int64_t now_ms, int64_t ts)
{
    int dow = day_of_week(ts);
    switch (sp->kind) {
    case D_WEEKDAY:
        return dow > 1 && dow < 7;
    case D_WEEKEND:
        return dow == 1 || dow == 7;
    case D_THIS_DAY:
        return dow == day_of_week(now_ms);
    case D_DATE:
        return floor_div(ts, DAY_MS) == sp->day;
    default:
        return dow == sp->kind;
    }
}

int sl_window_intervals(const struct sl_window *w, int64_t now_ms, int64_t *start_ms,
                        int64_t *end_ms, struct sl_window_interval **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    int64_t start, end, bin, skip = INT32_MAX;
    if (w->shape == W_WIDTH) {
        if (__builtin_sub_overflow(now_ms, w->width_ms, &start))
            return SL_ERANGE;
        end = now_ms;
        bin = w->width_ms;
    } else {
        int64_t far = w->from_ms > w->to_ms ? w->from_ms : w->to_ms;
        int64_t near = w->from_ms > w->to_ms ? w->to_ms : w->from_ms;
        if (__builtin_sub_overflow(now_ms, far, &start) ||
            __builtin_sub_overflow(now_ms, near, &end))
            return SL_ERANGE;
        bin = w->shape == W_REPEAT ? w->width_ms : end - start;
        if (w->shape == W_REPEAT)
            skip = w->skip_ms;
    }
    *start_ms = start;
    *end_ms = end;
    if (bin > end - start)
        return 0;
    uint64_t steps = (uint64_t)((end - start - bin) / skip) + 1;
    if (steps > SL_WINDOW_MAX_INTERVALS)
        return SL_E2BIG;
    struct sl_window_interval *iv = sl_malloc(steps * sizeof *iv);
    if (!iv)
        return SL_ENOMEM;
    size_t n = 0;
    for (uint64_t k = 0; k < steps; k++) {
        int64_t left = start + (int64_t)k * skip;
        bool include = w->ninc == 0;
        for (size_t i = 0; i < w->ninc && !include; i++)
            include = spec_test(&w->inc[i], now_ms, left);
        for (size_t i = 0; i < w->nexc && include; i++)
            include = !spec_test(&w->exc[i], now_ms, left);
        if (include)
            iv[n++] = (struct sl_window_interval){left, left + bin};
    }
    if (!n) {
        sl_free(iv);
        iv = NULL;
    }
    *out = iv;
    *count = n;
    return 0;
}
