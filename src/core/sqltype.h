/*
 * sqltype.h — the types of the SQL language (the ksqlDB subset), shared by the SQL layer
 * (src/sql/) and the SQL builtins of the expression VM (src/lang/fn_sql.c): siblings of one
 * layer talk through core/ types (ARCHITECTURE.md, scripts/checksrc.sh).
 */
#ifndef SL_CORE_SQLTYPE_H
#define SL_CORE_SQLTYPE_H

#include <stdint.h>

#define SL_SQL_TYPES(X)                                                                            \
    X(UNKNOWN, "UNKNOWN") /* not known (yet): NULL literals, untyped inputs */                     \
    X(BOOLEAN, "BOOLEAN")                                                                          \
    X(INT, "INTEGER")                                                                              \
    X(BIGINT, "BIGINT")                                                                            \
    X(DOUBLE, "DOUBLE")                                                                            \
    X(DECIMAL, "DECIMAL")                                                                          \
    X(STRING, "STRING")                                                                            \
    X(BYTES, "BYTES")                                                                              \
    X(TIMESTAMP, "TIMESTAMP")                                                                      \
    X(DATE, "DATE")                                                                                \
    X(TIME, "TIME")                                                                                \
    X(ARRAY, "ARRAY")                                                                              \
    X(MAP, "MAP")                                                                                  \
    X(STRUCT, "STRUCT")

enum sl_sql_tkind {
#define SL_SQL_T_ENUM(n, s) SL_SQL_T_##n,
    SL_SQL_TYPES(SL_SQL_T_ENUM)
#undef SL_SQL_T_ENUM
        SL_SQL_T__COUNT
};

struct sl_sql_type;

struct sl_sql_tfield {
    const char *name; /* normalised */
    struct sl_sql_type *type;
};

struct sl_sql_type {
    enum sl_sql_tkind kind;
    uint8_t precision, scale;     /* DECIMAL(p, s) */
    struct sl_sql_type *elem;     /* ARRAY element, MAP value */
    struct sl_sql_type *key;      /* MAP key (STRING) */
    struct sl_sql_tfield *fields; /* STRUCT */
    uint32_t nfields;
};

#endif
