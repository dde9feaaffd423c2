/*
 * sql_parse_int.h — internals shared by the SQL lexer (sql_lex.c) and parser (sql_parse.c).
 *
 * DESIGN: the lexer is a pure function of (source, state): it never allocates and can be
 * re-run from a saved state, so the parser looks ahead any number of tokens by copying a
 * struct sl_sql__lexst (the few places that need it: `q.*`, lambdas, `GROUP BY (a, b)`).
 * A token is a span of the source; the parser decodes strings and quoted identifiers itself.
 */
#ifndef SL_SQL_SQL_PARSE_INT_H
#define SL_SQL_SQL_PARSE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sl_sql__tk {
    SL_SQL_TK_EOF,
    SL_SQL_TK_IDENT,  /* [A-Za-z_][A-Za-z0-9_@]* or a digit identifier (`1R`); keywords too */
    SL_SQL_TK_QIDENT, /* `...` or "..." (span includes the quotes) */
    SL_SQL_TK_STRING, /* '...' (span includes the quotes) */
    SL_SQL_TK_INT,    /* digits */
    SL_SQL_TK_DEC,    /* digits with '.' */
    SL_SQL_TK_DBL,    /* a number with an exponent */
    SL_SQL_TK_LPAREN,
    SL_SQL_TK_RPAREN,
    SL_SQL_TK_LBRACK,
    SL_SQL_TK_RBRACK,
    SL_SQL_TK_COMMA,
    SL_SQL_TK_DOT,
    SL_SQL_TK_SEMI,
    SL_SQL_TK_STAR,
    SL_SQL_TK_PLUS,
    SL_SQL_TK_MINUS,
    SL_SQL_TK_SLASH,
    SL_SQL_TK_PERCENT,
    SL_SQL_TK_CONCAT, /* || */
    SL_SQL_TK_EQ,
    SL_SQL_TK_NE, /* <> != */
    SL_SQL_TK_LT,
    SL_SQL_TK_LE,
    SL_SQL_TK_GT,
    SL_SQL_TK_GE,
    SL_SQL_TK_ARROW,  /* -> */
    SL_SQL_TK_LAMBDA, /* => */
    SL_SQL_TK_ASSIGN, /* := */
};

struct sl_sql__tok {
    enum sl_sql__tk kind;
    uint32_t off; /* byte offset of the first byte */
    uint32_t len; /* bytes */
    uint32_t line, col;
};

/* where the lexer is: restartable by copy */
struct sl_sql__lexst {
    uint32_t off;
    uint32_t line;
    uint32_t line_start; /* offset of the first byte of the current line */
};

/* a lexical error: where and what */
struct sl_sql__lexerr {
    uint32_t off, line, col;
    const char *msg;
};

/*
 * Scan the next token of src[0..len) from *st (comments and blanks skipped) into *t and
 * advance *st. Returns true, or false on a lexical error (unterminated string, comment or
 * quoted identifier, an unexpected byte) described in *e (may be NULL).
 */
bool sl_sql__lex(const char *src, size_t len, struct sl_sql__lexst *st, struct sl_sql__tok *t,
                 struct sl_sql__lexerr *e);

/* Name of a token kind for messages ("')'", "a string"...). */
const char *sl_sql__tk_name(enum sl_sql__tk k);

/* Is the unquoted word s[0..n) a reserved word (never a bare identifier)? Case-insensitive. */
bool sl_sql__reserved(const char *s, size_t n);

#endif
