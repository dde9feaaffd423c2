/*
 * sql_parse.h — lexer and recursive-descent parser for the ksqlDB subset (sql_ast.h).
 *
 * DESIGN: hand-written lexer and parser (../shared/specs/ksql.md §5.1): soft keywords work as
 * identifiers (columns named TIMESTAMP, TYPE, PATH, KEY...), expressions by precedence
 * climbing with the binding powers of §5.1 (OR < AND < NOT < predicates < + - || < * / % <
 * unary < postfix [i] ->f). Every node is allocated in the caller's arena. Errors carry the
 * 1-based line and column, the byte offset, what was found, what was expected, and a caret
 * line under the statement's text in d->hint. Limits: nesting depth SL_SQL_MAX_DEPTH, script
 * size SL_SQL_MAX_SRC (hostile input must not exhaust the stack or memory). The depth budget
 * also counts operator chains (`a OR b OR ...`), so it bounds the height of every tree and
 * recursive walks over it are safe. Reserved words (never bare names; quote them): AND AS
 * BETWEEN BY CASE CAST DISTINCT ELSE END FALSE FROM FULL GROUP HAVING IN INNER IS JOIN LEFT
 * LIKE LIMIT NOT NULL ON OR OUTER RIGHT SELECT THEN TRUE WHEN WHERE WITHIN; WINDOW, PARTITION
 * and EMIT are names everywhere except as an alias left without AS after a relation.
 * Lexer: sql_lex.c; parser: sql_parse.c; formatting and equality: sql_parse_fmt.c. No global
 * state: any thread may call these, on its own arena.
 */
#ifndef SL_SQL_SQL_PARSE_H
#define SL_SQL_SQL_PARSE_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "sql/sql_ast.h"

#define SL_SQL_MAX_SRC   (4u << 20)
#define SL_SQL_MAX_DEPTH 200

/*
 * Parse a script: statements separated by ';' (the last ';' may be missing). Comments
 * (`-- ...`, `/ * ... * /`) are skipped. On success *out (in arena a) holds every statement.
 * Returns 0, SL_EPARSE (d: line, col, offset, msg "expected X, found Y", hint with caret),
 * SL_E2BIG (limits), SL_ENOMEM.
 */
int sl_sql_parse(const char *src, size_t len, struct sl_arena *a, struct sl_sql_script **out,
                 struct sl_diag *d);

/* Parse one expression (the whole text; lambdas only as function arguments). Same errors. */
int sl_sql_parse_expr(const char *src, size_t len, struct sl_arena *a, struct sl_sql_expr **out,
                      struct sl_diag *d);

/* Append the SQL text of a type ("ARRAY<STRING>", "DECIMAL(9, 2)", "STRUCT<A INTEGER>"). */
int sl_sql_type_format(const struct sl_sql_type *t, struct sl_buf *out);
/* Name of a type kind ("INTEGER", "STRING"...). */
const char *sl_sql_tkind_name(enum sl_sql_tkind k);

/*
 * Append the canonical SQL text of an expression: upper-case keywords and names, single
 * spaces, minimal parentheses kept as ksqlDB prints them ("(A + 1)" for a binary operation,
 * "COUNT(*)", "'it''s'"). Used for error messages, DESCRIBE and for matching a projection
 * against a GROUP BY expression.
 */
int sl_sql_expr_format(const struct sl_sql_expr *e, struct sl_buf *out);

/* Structural equality of two expressions (same text after normalisation, positions ignored). */
bool sl_sql_expr_equal(const struct sl_sql_expr *x, const struct sl_sql_expr *y);

#endif
