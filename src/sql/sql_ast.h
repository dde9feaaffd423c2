/*
 * sql_ast.h — the syntax tree of sluice's streaming SQL (the ksqlDB subset).
 *
 * DESIGN: the parser (sql_parse.c) turns a script of `;`-separated statements into these
 * nodes, all allocated in one arena the caller owns; nothing here is freed on its own.
 * Identifiers are normalised by the parser: unquoted ones are upper-cased (ksqlDB's rule),
 * quoted ones (`backticks` or "double quotes") keep their case and carry `quoted`. Every node
 * records where it starts (byte offset, 1-based line and column) so the binder can point at
 * it in an error. Durations are converted to milliseconds by the parser. Semantics (types,
 * name resolution, the 0.6 compatibility rules) are the binder's (sql_plan.c), not the
 * parser's: the parser accepts everything the grammar of ../shared/specs/ksql.md §1.1 allows.
 */
#ifndef SL_SQL_SQL_AST_H
#define SL_SQL_SQL_AST_H

#include "core/sqltype.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* where a node starts in the script */
struct sl_sql_pos {
    uint32_t offset; /* byte offset in the script */
    uint32_t line;   /* 1-based */
    uint32_t col;    /* 1-based, in bytes */
};

/* types: core/sqltype.h (shared with lang/fn_sql.c, which may not include sql/) */

/* ------------------------------------------------------------------ expressions */

#define SL_SQL_EXPRS(X)                                                                            \
    X(NULL, "NULL")       /* NULL literal */                                                       \
    X(BOOL, "boolean")    /* b */                                                                  \
    X(INT, "integer")     /* i: fits in INT (32 bits) */                                           \
    X(BIGINT, "bigint")   /* i: an integer literal beyond 32 bits */                               \
    X(DOUBLE, "double")   /* d: a literal with '.' or an exponent */                               \
    X(DECIMAL, "decimal") /* text: kept as written (the binder may make it a DOUBLE) */            \
    X(STRING, "string")   /* text/len: '...' with '' unescaped */                                  \
    X(COLUMN, "column")   /* qualifier (NULL if none) . name */                                    \
    X(UNARY, "unary")     /* op (NEG, PLUS, NOT) a */                                              \
    X(BINARY, "binary")   /* a op b */                                                             \
    X(BETWEEN, "BETWEEN") /* a [NOT] BETWEEN b AND c */                                            \
    X(IN, "IN")           /* a [NOT] IN (args) */                                                  \
    X(LIKE, "LIKE")       /* a [NOT] LIKE b [ESCAPE text] */                                       \
    X(IS_NULL, "IS NULL") /* a IS [NOT] NULL */                                                    \
    X(IS_DISTINCT, "IS DISTINCT FROM") /* a IS [NOT] DISTINCT FROM b */                            \
    X(CASE, "CASE")           /* CASE [a] WHEN args[2i] THEN args[2i+1] ... [ELSE b] END */        \
    X(CAST, "CAST")           /* CAST(a AS type) */                                                \
    X(CALL, "call")           /* name(args) ; star: name(*) ; distinct: name(DISTINCT ...) */      \
    X(SUBSCRIPT, "subscript") /* a[b] */                                                           \
    X(DEREF, "->")            /* a->name */                                                        \
    X(ARRAY, "ARRAY")         /* ARRAY[args] */                                                    \
    X(MAP, "MAP")             /* MAP(args[2i] := args[2i+1], ...) */                               \
    X(STRUCT, "STRUCT")       /* STRUCT(names[i] := args[i], ...) */                               \
    X(LAMBDA, "lambda")       /* (names) => a, or name => a (higher-order functions) */
/* ROWTIME, ROWKEY, WINDOWSTART, WINDOWEND are plain COLUMN references: the binder knows them */

enum sl_sql_ekind {
#define SL_SQL_E_ENUM(n, s) SL_SQL_E_##n,
    SL_SQL_EXPRS(SL_SQL_E_ENUM)
#undef SL_SQL_E_ENUM
        SL_SQL_E__COUNT
};

enum sl_sql_op {
    SL_SQL_OP_NONE,
    /* unary */
    SL_SQL_OP_NEG,
    SL_SQL_OP_PLUS,
    SL_SQL_OP_NOT,
    /* arithmetic */
    SL_SQL_OP_ADD,
    SL_SQL_OP_SUB,
    SL_SQL_OP_MUL,
    SL_SQL_OP_DIV,
    SL_SQL_OP_MOD,
    SL_SQL_OP_CONCAT, /* || */
    /* comparison */
    SL_SQL_OP_EQ,
    SL_SQL_OP_NE, /* != and <> */
    SL_SQL_OP_LT,
    SL_SQL_OP_LE,
    SL_SQL_OP_GT,
    SL_SQL_OP_GE,
    /* logic */
    SL_SQL_OP_AND,
    SL_SQL_OP_OR,
};

struct sl_sql_expr {
    enum sl_sql_ekind kind;
    enum sl_sql_op op;
    struct sl_sql_pos pos;
    uint32_t end; /* byte offset one past the expression's text (for KSQL_COL naming, errors) */
    bool negated; /* NOT BETWEEN, NOT IN, NOT LIKE, IS NOT NULL, IS NOT DISTINCT FROM */
    bool star;    /* CALL: COUNT(*) */
    bool distinct;
    bool quoted; /* COLUMN/DEREF name was quoted */
    bool b;
    int64_t i;
    double d;
    const char *text;      /* STRING (unescaped, NUL-terminated), DECIMAL, LIKE escape char */
    uint32_t len;          /* bytes of text */
    const char *qualifier; /* COLUMN: source alias (normalised), or NULL */
    const char *name;      /* COLUMN, DEREF field, CALL function (upper-cased) */
    struct sl_sql_expr *a, *b_, *c;
    struct sl_sql_expr **args;
    uint32_t nargs;
    const char **names; /* STRUCT field names, LAMBDA parameter names */
    uint32_t nnames;
    struct sl_sql_type *type; /* CAST target */
};

/* ------------------------------------------------------------------ queries */

enum sl_sql_item_kind {
    SL_SQL_ITEM_EXPR,     /* expr [AS alias] */
    SL_SQL_ITEM_STAR,     /* * */
    SL_SQL_ITEM_QSTAR,    /* qualifier.* */
    SL_SQL_ITEM_DEREFSTAR /* expr->* */
};

struct sl_sql_item {
    enum sl_sql_item_kind kind;
    struct sl_sql_pos pos;
    struct sl_sql_expr *expr;
    const char *alias; /* normalised, NULL if none */
    bool alias_quoted;
    const char *qualifier; /* QSTAR */
};

struct sl_sql_rel {
    struct sl_sql_pos pos;
    const char *name;  /* source name, normalised */
    const char *alias; /* normalised, NULL if none */
};

enum sl_sql_join_kind { SL_SQL_JOIN_INNER, SL_SQL_JOIN_LEFT, SL_SQL_JOIN_RIGHT, SL_SQL_JOIN_FULL };

struct sl_sql_join {
    struct sl_sql_pos pos;
    enum sl_sql_join_kind kind;
    struct sl_sql_rel right;
    bool within;       /* WITHIN given */
    int64_t before_ms; /* WITHIN n: before = after = n; WITHIN (b, a) */
    int64_t after_ms;
    bool has_grace; /* GRACE PERIOD given */
    int64_t grace_ms;
    struct sl_sql_expr *on;
};

enum sl_sql_window_kind {
    SL_SQL_WIN_NONE,
    SL_SQL_WIN_TUMBLING,
    SL_SQL_WIN_HOPPING,
    SL_SQL_WIN_SESSION
};

struct sl_sql_window {
    struct sl_sql_pos pos;
    enum sl_sql_window_kind kind;
    int64_t size_ms;    /* TUMBLING/HOPPING SIZE; SESSION gap */
    int64_t advance_ms; /* HOPPING ADVANCE BY */
    bool has_retention;
    int64_t retention_ms;
    bool has_grace;
    int64_t grace_ms;
};

enum sl_sql_emit { SL_SQL_EMIT_DEFAULT, SL_SQL_EMIT_CHANGES, SL_SQL_EMIT_FINAL };

struct sl_sql_query {
    struct sl_sql_pos pos;
    struct sl_sql_item *items;
    uint32_t nitems;
    struct sl_sql_rel from;
    struct sl_sql_join *joins;
    uint32_t njoins;
    struct sl_sql_window window; /* kind NONE if absent */
    struct sl_sql_expr *where;   /* NULL if absent */
    struct sl_sql_expr **group_by;
    uint32_t ngroup_by;
    struct sl_sql_expr **partition_by;
    uint32_t npartition_by;
    struct sl_sql_expr *having;
    enum sl_sql_emit emit;
    int64_t limit; /* -1 if absent */
};

/* ------------------------------------------------------------------ statements */

/* WITH (name = value, ...): names upper-cased (as ksqlDB compares them case-insensitively);
 * values are literal expressions (STRING, INT, BIGINT, DOUBLE, BOOL) */
struct sl_sql_prop {
    struct sl_sql_pos pos;
    const char *name;
    struct sl_sql_expr *value;
    const char *raw; /* the name as written (a quoted one unescaped): connector configs keep case */
};

struct sl_sql_coldef {
    struct sl_sql_pos pos;
    const char *name; /* normalised */
    bool quoted;
    struct sl_sql_type *type;
    bool key;         /* KEY (streams) */
    bool primary_key; /* PRIMARY KEY (tables) */
    bool headers;     /* HEADERS / HEADER('k'): parsed, the binder refuses or maps them */
};

#define SL_SQL_STMTS(X)                                                                            \
    X(CREATE_SOURCE, "CREATE STREAM/TABLE") /* source_kind, name, cols, props */                   \
    X(CREATE_AS, "CREATE ... AS SELECT")    /* source_kind, name, props, query */                  \
    X(INSERT_INTO, "INSERT INTO")           /* name, props, query */                               \
    X(SELECT, "SELECT")                     /* query: a push query */                              \
    X(DROP, "DROP")                         /* source_kind, name, if_exists, delete_topic */       \
    X(SET, "SET")                           /* prop_name, prop_value */                            \
    X(UNSET, "UNSET")                       /* prop_name */                                        \
    X(SHOW, "SHOW")                         /* show: STREAMS TABLES QUERIES PROPERTIES ... */      \
    X(DESCRIBE, "DESCRIBE")                 /* name, extended */                                   \
    X(EXPLAIN, "EXPLAIN")                   /* name (a query id) or query */                       \
    X(TERMINATE, "TERMINATE")               /* name (query id) or all */                           \
    X(CREATE_CONNECTOR, "CREATE CONNECTOR") /* connector_source, name, props */                    \
    X(DROP_CONNECTOR, "DROP CONNECTOR")     /* name */

enum sl_sql_skind {
#define SL_SQL_S_ENUM(n, s) SL_SQL_S_##n,
    SL_SQL_STMTS(SL_SQL_S_ENUM)
#undef SL_SQL_S_ENUM
        SL_SQL_S__COUNT
};

enum sl_sql_source_kind { SL_SQL_STREAM, SL_SQL_TABLE };

struct sl_sql_stmt {
    enum sl_sql_skind kind;
    struct sl_sql_pos pos;
    uint32_t end;     /* byte offset one past the statement (before its ';') */
    const char *text; /* the statement's text as written, NUL-terminated, without ';' */
    enum sl_sql_source_kind source_kind;
    bool or_replace;
    bool if_not_exists;
    bool if_exists;
    bool delete_topic;     /* DROP ... DELETE TOPIC */
    bool extended;         /* DESCRIBE EXTENDED */
    bool all;              /* TERMINATE ALL */
    bool connector_source; /* CREATE SOURCE CONNECTOR (true) / SINK CONNECTOR (false) */
    const char *name;      /* normalised */
    const char *show;      /* SHOW what, upper-cased: "STREAMS", "TABLES", "QUERIES", "PROPERTIES",
                            * "TOPICS", "FUNCTIONS", "CONNECTORS" */
    struct sl_sql_coldef *cols;
    uint32_t ncols;
    bool has_cols; /* a column list was given (possibly empty) */
    struct sl_sql_prop *props;
    uint32_t nprops;
    struct sl_sql_query *query;
    const char *prop_name;  /* SET/UNSET: the quoted property name, as written */
    const char *prop_value; /* SET: the quoted value */
};

struct sl_sql_script {
    struct sl_sql_stmt *stmts;
    uint32_t nstmts;
};

#endif
