/*
 * sql_lex.c — the lexer of sluice's streaming SQL (ksqlDB's SqlBase.g4 tokens).
 *
 * DESIGN: longest match as ANTLR does it, with ksqlDB's quirks: a digit identifier (`1R`, a
 * run of letters/digits/_/@ that starts with a digit and is longer than the number it
 * starts with) is an identifier; `1e3` is a number, `1e` an identifier. Keywords are not
 * tokens of their own: a word is an IDENT and the parser asks whether it is the keyword it
 * wants, which is what makes almost every keyword usable as a column name. The lexer holds
 * no state besides a copyable position (sql_parse_int.h) and never allocates.
 */
#include "sql/sql_parse_int.h"

#include <string.h>
#include <strings.h>

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_word(char c)
{
    return is_alpha(c) || is_digit(c) || c == '@';
}

static const char *const tk_names[] = {
    [SL_SQL_TK_EOF] = "end of input",
    [SL_SQL_TK_IDENT] = "an identifier",
    [SL_SQL_TK_QIDENT] = "a quoted identifier",
    [SL_SQL_TK_STRING] = "a string",
    [SL_SQL_TK_INT] = "an integer",
    [SL_SQL_TK_DEC] = "a decimal number",
    [SL_SQL_TK_DBL] = "a number",
    [SL_SQL_TK_LPAREN] = "'('",
    [SL_SQL_TK_RPAREN] = "')'",
    [SL_SQL_TK_LBRACK] = "'['",
    [SL_SQL_TK_RBRACK] = "']'",
    [SL_SQL_TK_COMMA] = "','",
    [SL_SQL_TK_DOT] = "'.'",
    [SL_SQL_TK_SEMI] = "';'",
    [SL_SQL_TK_STAR] = "'*'",
    [SL_SQL_TK_PLUS] = "'+'",
    [SL_SQL_TK_MINUS] = "'-'",
    [SL_SQL_TK_SLASH] = "'/'",
    [SL_SQL_TK_PERCENT] = "'%'",
    [SL_SQL_TK_CONCAT] = "'||'",
    [SL_SQL_TK_EQ] = "'='",
    [SL_SQL_TK_NE] = "'<>'",
    [SL_SQL_TK_LT] = "'<'",
    [SL_SQL_TK_LE] = "'<='",
    [SL_SQL_TK_GT] = "'>'",
    [SL_SQL_TK_GE] = "'>='",
    [SL_SQL_TK_ARROW] = "'->'",
    [SL_SQL_TK_LAMBDA] = "'=>'",
    [SL_SQL_TK_ASSIGN] = "':='",
};

const char *sl_sql__tk_name(enum sl_sql__tk k)
{
    return (unsigned)k < sizeof tk_names / sizeof tk_names[0] && tk_names[k] ? tk_names[k] : "?";
}

/*
 * Words that are never bare identifiers: those an expression or a clause boundary cannot do
 * without (ksqlDB reserves more; everything in its nonReserved list, and more, stays soft).
 * A column with one of these names is written quoted (`SELECT`).
 */
static const char *const reserved[] = {
    "AND",    "AS",   "BETWEEN", "BY",    "CASE",   "CAST",   "DISTINCT", "ELSE",  "END",
    "FALSE",  "FROM", "FULL",    "GROUP", "HAVING", "IN",     "INNER",    "IS",    "JOIN",
    "LEFT",   "LIKE", "LIMIT",   "NOT",   "NULL",   "ON",     "OR",       "OUTER", "RIGHT",
    "SELECT", "THEN", "TRUE",    "WHEN",  "WHERE",  "WITHIN",
};

bool sl_sql__reserved(const char *s, size_t n)
{
    if (n < 2 || n > 8)
        return false;
    char c = (char)(s[0] & ~0x20); /* the table is upper-case */
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (reserved[i][0] == c && strlen(reserved[i]) == n && !strncasecmp(reserved[i], s, n))
            return true;
    return false;
}

static bool fail(struct sl_sql__lexerr *e, const struct sl_sql__lexst *st, uint32_t off,
                 const char *msg)
{
    if (e) {
        e->off = off;
        e->line = st->line;
        e->col = off - st->line_start + 1;
        e->msg = msg;
    }
    return false;
}

/* length of the number at s[0..n) (n > 0, s[0] a digit or '.' then digit); *kind its kind */
static size_t scan_number(const char *s, size_t n, enum sl_sql__tk *kind)
{
    size_t i = 0;
    *kind = SL_SQL_TK_INT;
    while (i < n && is_digit(s[i]))
        i++;
    if (i < n && s[i] == '.') {
        i++;
        *kind = SL_SQL_TK_DEC;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < n && is_digit(s[j])) {
            while (j < n && is_digit(s[j]))
                j++;
            i = j;
            *kind = SL_SQL_TK_DBL;
        }
    }
    return i;
}

bool sl_sql__lex(const char *src, size_t len, struct sl_sql__lexst *st, struct sl_sql__tok *t,
                 struct sl_sql__lexerr *e)
{
    uint32_t i = st->off;
    /* blanks and comments */
    for (;;) {
        if (i >= len)
            break;
        char c = src[i];
        if (c == '\n') {
            i++;
            st->line++;
            st->line_start = i;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
        } else if (c == '-' && i + 1 < len && src[i + 1] == '-') {
            while (i < len && src[i] != '\n')
                i++;
        } else if (c == '/' && i + 1 < len && src[i + 1] == '*') {
            struct sl_sql__lexst at = *st;
            uint32_t start = i;
            i += 2;
            for (;;) {
                if (i + 1 >= len) {
                    st->off = (uint32_t)len;
                    return fail(e, &at, start, "unterminated comment");
                }
                if (src[i] == '*' && src[i + 1] == '/') {
                    i += 2;
                    break;
                }
                if (src[i] == '\n') {
                    st->line++;
                    st->line_start = i + 1;
                }
                i++;
            }
        } else {
            break;
        }
    }
    st->off = i;
    t->off = i;
    t->line = st->line;
    t->col = i - st->line_start + 1;
    t->len = 0;
    if (i >= len) {
        t->kind = SL_SQL_TK_EOF;
        return true;
    }
    const char *s = src + i;
    size_t rest = len - i;
    char c = s[0];
    size_t n = 1;
    enum sl_sql__tk k;
    if (is_alpha(c)) {
        while (n < rest && is_word(s[n]))
            n++;
        k = SL_SQL_TK_IDENT;
    } else if (is_digit(c) || (c == '.' && rest > 1 && is_digit(s[1]))) {
        n = scan_number(s, rest, &k);
        if (k == SL_SQL_TK_INT || (k == SL_SQL_TK_DBL && is_digit(c))) {
            size_t w = 0; /* a digit identifier wins when longer */
            while (w < rest && is_word(s[w]))
                w++;
            if (w > n) {
                n = w;
                k = SL_SQL_TK_IDENT;
            }
        }
    } else if (c == '\'' || c == '`' || c == '"') {
        /* strings and quoted identifiers: a doubled quote stands for one */
        uint32_t line = st->line, line_start = st->line_start;
        for (;;) {
            if (n >= rest) {
                struct sl_sql__lexst at = {i, line, line_start};
                st->off = (uint32_t)len;
                return fail(e, &at, i,
                            c == '\'' ? "unterminated string" : "unterminated quoted identifier");
            }
            if (s[n] == c) {
                if (n + 1 < rest && s[n + 1] == c) {
                    n += 2;
                    continue;
                }
                n++;
                break;
            }
            if (s[n] == '\n') {
                st->line++;
                st->line_start = i + (uint32_t)n + 1;
            }
            n++;
        }
        k = c == '\'' ? SL_SQL_TK_STRING : SL_SQL_TK_QIDENT;
    } else {
        char d = rest > 1 ? s[1] : 0;
        switch (c) {
        case '(':
            k = SL_SQL_TK_LPAREN;
            break;
        case ')':
            k = SL_SQL_TK_RPAREN;
            break;
        case '[':
            k = SL_SQL_TK_LBRACK;
            break;
        case ']':
            k = SL_SQL_TK_RBRACK;
            break;
        case ',':
            k = SL_SQL_TK_COMMA;
            break;
        case '.':
            k = SL_SQL_TK_DOT;
            break;
        case ';':
            k = SL_SQL_TK_SEMI;
            break;
        case '*':
            k = SL_SQL_TK_STAR;
            break;
        case '+':
            k = SL_SQL_TK_PLUS;
            break;
        case '-':
            k = SL_SQL_TK_MINUS;
            if (d == '>') {
                k = SL_SQL_TK_ARROW;
                n = 2;
            }
            break;
        case '/':
            k = SL_SQL_TK_SLASH;
            break;
        case '%':
            k = SL_SQL_TK_PERCENT;
            break;
        case '|':
            if (d != '|')
                return fail(e, st, i, "unexpected character '|' (did you mean '||'?)");
            k = SL_SQL_TK_CONCAT;
            n = 2;
            break;
        case '=':
            k = SL_SQL_TK_EQ;
            if (d == '>') {
                k = SL_SQL_TK_LAMBDA;
                n = 2;
            }
            break;
        case '<':
            k = SL_SQL_TK_LT;
            if (d == '=' || d == '>') {
                k = d == '=' ? SL_SQL_TK_LE : SL_SQL_TK_NE;
                n = 2;
            }
            break;
        case '>':
            k = SL_SQL_TK_GT;
            if (d == '=') {
                k = SL_SQL_TK_GE;
                n = 2;
            }
            break;
        case '!':
            if (d != '=')
                return fail(e, st, i, "unexpected character '!'");
            k = SL_SQL_TK_NE;
            n = 2;
            break;
        case ':':
            if (d != '=')
                return fail(e, st, i, "unexpected character ':' (did you mean ':='?)");
            k = SL_SQL_TK_ASSIGN;
            n = 2;
            break;
        default:
            return fail(e, st, i, "unexpected character");
        }
    }
    t->kind = k;
    t->len = (uint32_t)n;
    st->off = i + (uint32_t)n;
    return true;
}
