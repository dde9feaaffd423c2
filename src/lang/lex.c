/*
 * lex.c — Stellar's lexer, as Metron's ANTLR grammar (Stellar.g4) tokenises.
 *
 * DESIGN: one pass, longest match, exactly the grammar's quirks: a minus sign directly before
 * a digit belongs to the number (`1-1` is two integers, hence a syntax error), identifiers may
 * hold dots and colons (`threat.triage.level`, `bar:variable`) but not end with a colon,
 * keywords are all-lower or all-upper only, `not in` is one token with exactly one space.
 * String escapes are the grammar's only (\' or \", \\, \r, \n, \t).
 */
#include "lang/lang_int.h"

#include "lang/sval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const tok_names[] = {
#define SL_TOK_NAME(n, s) s,
    SL_TOKENS(SL_TOK_NAME)
#undef SL_TOK_NAME
};

const char *sl_lang__tok_name(enum sl_tok k)
{
    return (unsigned)k < SL_T__COUNT ? tok_names[k] : "?";
}

static int lex_error(struct sl_lexer *lx, uint32_t pos, const char *msg)
{
    lx->d->col = pos + 1;
    lx->d->offset = pos;
    return sl_diag_set(lx->d, SL_EPARSE, "%s", msg);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
static bool is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c) || c == '.' || c == ':';
}

struct kw {
    const char *text;
    enum sl_tok tok;
};
static const struct kw keywords[] = {
    {"in", SL_T_IN},           {"IN", SL_T_IN},         {"and", SL_T_AND},
    {"AND", SL_T_AND},         {"or", SL_T_OR},         {"OR", SL_T_OR},
    {"not", SL_T_NOT},         {"NOT", SL_T_NOT},       {"true", SL_T_TRUE},
    {"TRUE", SL_T_TRUE},       {"false", SL_T_FALSE},   {"FALSE", SL_T_FALSE},
    {"if", SL_T_IF},           {"IF", SL_T_IF},         {"then", SL_T_THEN},
    {"THEN", SL_T_THEN},       {"else", SL_T_ELSE},     {"ELSE", SL_T_ELSE},
    {"null", SL_T_NULL},       {"NULL", SL_T_NULL},     {"NaN", SL_T_NAN},
    {"match", SL_T_MATCH},     {"MATCH", SL_T_MATCH},   {"default", SL_T_DEFAULT},
    {"DEFAULT", SL_T_DEFAULT}, {"exists", SL_T_EXISTS}, {"EXISTS", SL_T_EXISTS},
};

/*
 * Numbers. INT = -?(0|[1-9][0-9]*); LONG = INT[lL]; DOUBLE = INT '.' [0-9]* EXP? [dD]? |
 * '.' [0-9]+ EXP? [dD]? | INT EXP [dD]? | INT EXP? [dD]; FLOAT = INT '.' [0-9]* EXP? [fF] |
 * -?'.' [0-9]+ EXP? [fF] | INT EXP? [fF].
 */
static int lex_number(struct sl_lexer *lx, struct sl_token *t)
{
    const char *s = lx->src;
    uint32_t n = lx->len, p = lx->pos, start = p;
    bool neg = false;
    if (s[p] == '-') {
        neg = true;
        p++;
    }
    bool has_int = false, has_frac = false, has_exp = false;
    if (p < n && is_digit(s[p])) {
        has_int = true;
        if (s[p] == '0') {
            p++;
            if (p < n && is_digit(s[p]))
                return lex_error(lx, start, "a number may not start with 0 (leading zeros)");
        } else {
            while (p < n && is_digit(s[p]))
                p++;
        }
    }
    uint32_t int_end = p;
    if (p < n && s[p] == '.' && (has_int || (p + 1 < n && is_digit(s[p + 1])))) {
        has_frac = true;
        p++;
        while (p < n && is_digit(s[p]))
            p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        uint32_t q = p + 1;
        if (q < n && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q < n && is_digit(s[q])) {
            has_exp = true;
            p = q;
            while (p < n && is_digit(s[p]))
                p++;
        }
    }
    char suffix = p < n ? s[p] : 0;
    enum sl_tok kind;
    if (suffix == 'l' || suffix == 'L') {
        if (has_frac || has_exp || !has_int)
            return lex_error(lx, start, "malformed number");
        kind = SL_T_LONG;
        p++;
    } else if (suffix == 'f' || suffix == 'F') {
        kind = SL_T_FLOAT;
        p++;
    } else if (suffix == 'd' || suffix == 'D') {
        kind = SL_T_DOUBLE;
        p++;
    } else if (has_frac || has_exp) {
        kind = SL_T_DOUBLE;
    } else {
        kind = SL_T_INT;
    }
    (void)int_end;
    if (neg && !has_int && kind != SL_T_FLOAT)
        return 1; /* "-.5": a minus, then a number */
    if (p < n && (is_ident_start(s[p]) || is_digit(s[p])))
        return lex_error(lx, p, "malformed number");
    char tmp[96];
    uint32_t tl = p - start;
    if (tl >= sizeof tmp)
        return lex_error(lx, start, "number literal too long");
    memcpy(tmp, s + start, tl);
    tmp[tl] = 0;
    if (kind != SL_T_INT && kind != SL_T_DOUBLE && kind != SL_T_LONG && tl)
        tmp[tl - 1] = 0; /* strip f suffix */
    if (kind == SL_T_DOUBLE && (suffix == 'd' || suffix == 'D'))
        tmp[tl - 1] = 0;
    if (kind == SL_T_LONG)
        tmp[tl - 1] = 0;
    t->kind = kind;
    t->pos = start;
    t->len = tl;
    if (kind == SL_T_INT || kind == SL_T_LONG) {
        errno = 0;
        char *end;
        long long v = strtoll(tmp, &end, 10);
        if (errno == ERANGE || *end)
            return lex_error(lx, start, "integer literal out of range");
        if (kind == SL_T_INT) {
            if (v < INT32_MIN || v > INT32_MAX)
                return lex_error(lx, start,
                                 "integer literal out of the int range (add L for a long)");
            t->lit = sl_sv_int((int32_t)v);
        } else {
            t->lit = sl_sv_long(v);
        }
    } else {
        double d = strtod(tmp, NULL);
        t->lit = kind == SL_T_FLOAT ? sl_sv_float((float)d) : sl_sv_double(d);
    }
    lx->pos = p;
    return 0;
}

static int lex_string(struct sl_lexer *lx, struct sl_token *t)
{
    const char *s = lx->src;
    uint32_t n = lx->len, p = lx->pos, start = p;
    char q = s[p++];
    /* first pass: find the end and validate escapes */
    uint32_t outlen = 0;
    uint32_t i = p;
    for (;;) {
        if (i >= n)
            return lex_error(lx, start, "unterminated string");
        char c = s[i];
        if (c == q)
            break;
        if (c == '\\') {
            if (i + 1 >= n)
                return lex_error(lx, start, "unterminated string");
            char e = s[i + 1];
            if (e != q && e != '\\' && e != 'r' && e != 'n' && e != 't')
                return lex_error(lx, i,
                                 "invalid escape in string (allowed: \\' \\\" \\\\ \\r \\n \\t)");
            i += 2;
        } else {
            i++;
        }
        outlen++;
    }
    char *out = sl_arena_alloc_bytes(lx->arena, outlen + 1);
    if (!out)
        return sl_diag_set(lx->d, SL_ENOMEM, "out of memory");
    uint32_t o = 0;
    for (uint32_t j = p; j < i;) {
        char c = s[j];
        if (c == '\\') {
            char e = s[j + 1];
            out[o++] = e == 'r' ? '\r' : e == 'n' ? '\n' : e == 't' ? '\t' : e;
            j += 2;
        } else {
            out[o++] = c;
            j++;
        }
    }
    out[o] = 0;
    t->kind = SL_T_STRING;
    t->pos = start;
    t->len = i + 1 - start;
    t->lit = sl_value_str(out, o);
    lx->pos = i + 1;
    return 0;
}

int sl_lang__lex(struct sl_lexer *lx, struct sl_token *t)
{
    const char *s = lx->src;
    uint32_t n = lx->len;
    memset(t, 0, sizeof *t);
    for (;;) {
        while (lx->pos < n && (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' ||
                               s[lx->pos] == '\r' || s[lx->pos] == '\f'))
            lx->pos++;
        if (lx->pos + 1 < n && s[lx->pos] == '/' && s[lx->pos + 1] == '/') {
            while (lx->pos < n && s[lx->pos] != '\n')
                lx->pos++;
            continue;
        }
        break;
    }
    uint32_t p = lx->pos;
    t->pos = p;
    if (p >= n) {
        t->kind = SL_T_EOF;
        return 0;
    }
    char c = s[p];
    char c1 = p + 1 < n ? s[p + 1] : 0;
    if (is_digit(c) || (c == '.' && is_digit(c1)) ||
        (c == '-' && (is_digit(c1) || (c1 == '.' && p + 2 < n && is_digit(s[p + 2]))))) {
        int rc = lex_number(lx, t);
        if (rc <= 0)
            return rc;
        /* "-.5" without f: a minus sign */
    }
    if (c == '\'' || c == '"')
        return lex_string(lx, t);
    if (is_ident_start(c)) {
        uint32_t e = p;
        while (e < n && is_ident_char(s[e]))
            e++;
        while (e > p + 1 && s[e - 1] == ':')
            e--;
        uint32_t len = e - p;
        t->len = len;
        lx->pos = e;
        for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
            if (strlen(keywords[i].text) == len && !memcmp(keywords[i].text, s + p, len)) {
                t->kind = keywords[i].tok;
                if (t->kind == SL_T_NOT && e + 3 <= n && s[e] == ' ' &&
                    ((s[e + 1] == 'i' && s[e + 2] == 'n' && len == 3 && s[p] == 'n') ||
                     (s[e + 1] == 'I' && s[e + 2] == 'N' && s[p] == 'N')) &&
                    (e + 3 == n || !is_ident_char(s[e + 3]))) {
                    t->kind = SL_T_NOT_IN;
                    lx->pos = e + 3;
                    t->len = e + 3 - p;
                }
                if (t->kind == SL_T_NAN)
                    t->lit = sl_sv_double(NAN);
                return 0;
            }
        }
        t->kind = SL_T_IDENT;
        return 0;
    }
    enum sl_tok k;
    uint32_t l = 1;
    switch (c) {
    case '=':
        if (c1 == '=') {
            k = SL_T_EQ;
            l = 2;
        } else if (c1 == '>') {
            k = SL_T_FATARROW;
            l = 2;
        } else {
            return lex_error(lx, p, "unexpected '=' (use == to compare)");
        }
        break;
    case '!':
        if (c1 != '=')
            return lex_error(lx, p, "unexpected '!' (use not(...) or !=)");
        k = SL_T_NE;
        l = 2;
        break;
    case '<':
        k = c1 == '=' ? SL_T_LE : SL_T_LT;
        l = c1 == '=' ? 2 : 1;
        break;
    case '>':
        k = c1 == '=' ? SL_T_GE : SL_T_GT;
        l = c1 == '=' ? 2 : 1;
        break;
    case '&':
        if (c1 != '&')
            return lex_error(lx, p, "unexpected '&' (use && or and)");
        k = SL_T_AND;
        l = 2;
        break;
    case '|':
        if (c1 != '|')
            return lex_error(lx, p, "unexpected '|' (use || or or)");
        k = SL_T_OR;
        l = 2;
        break;
    case '+':
        k = SL_T_PLUS;
        break;
    case '-':
        if (c1 == '>') {
            k = SL_T_ARROW;
            l = 2;
        } else {
            k = SL_T_MINUS;
        }
        break;
    case '*':
        k = SL_T_MUL;
        break;
    case '/':
        k = SL_T_DIV;
        break;
    case '?':
        k = SL_T_QUESTION;
        break;
    case ':':
        k = SL_T_COLON;
        break;
    case ',':
        k = SL_T_COMMA;
        break;
    case '{':
        k = SL_T_LBRACE;
        break;
    case '}':
        k = SL_T_RBRACE;
        break;
    case '[':
        k = SL_T_LBRACK;
        break;
    case ']':
        k = SL_T_RBRACK;
        break;
    case '(':
        k = SL_T_LPAREN;
        break;
    case ')':
        k = SL_T_RPAREN;
        break;
    default:
        if (c == '%')
            return lex_error(lx, p, "unexpected '%' (Stellar has no modulo operator)");
        return lex_error(lx, p, "unexpected character");
    }
    t->kind = k;
    t->len = l;
    lx->pos = p + l;
    return 0;
}
