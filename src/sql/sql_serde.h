/*
 * sql_serde.h — rows in and out of JSON with ksqlDB's rules (../shared/specs/ksql.md §1.2–1.3).
 *
 * DESIGN: a source's schema is a list of typed columns; decoding a JSON object fills one value
 * per column: a field named exactly like the column first, else the field whose upper-cased
 * name is the column's; missing fields are NULL; undeclared fields ignored. Values are
 * coerced per §1.3 (numbers to INT truncate, numeric strings parse, any scalar to STRING
 * becomes its text, objects and arrays to STRING become their JSON text, ARRAY/MAP/STRUCT
 * recursively); a value that cannot be coerced fails the record with the column's name and
 * what was found. Encoding writes the columns in order with their names as given (upper-case
 * unless quoted), NULL as null, DOUBLE as JSON numbers, nested values recursively.
 *
 * Values of SQL types (core/value.h), as decode makes them and encode expects them:
 *   BOOLEAN SL_V_BOOL; INT SL_V_INT with SL_VF_I32; BIGINT SL_V_INT; DOUBLE and DECIMAL
 *   SL_V_DOUBLE; STRING SL_V_STRING; BYTES SL_V_BYTES (base64 in JSON); TIMESTAMP SL_V_TS
 *   (epoch milliseconds in JSON); DATE / TIME SL_V_INT + SL_VF_I32 (days since the epoch /
 *   milliseconds of the day); ARRAY SL_V_LIST; MAP SL_V_MAP; STRUCT SL_V_MAP holding exactly
 *   the declared fields in declared order (keys are the schema's field names: the schema must
 *   outlive the row), absent fields NULL. Decoded strings may be views into the parsed value.
 */
#ifndef SL_SQL_SQL_SERDE_H
#define SL_SQL_SQL_SERDE_H

#include "base/arena.h"
#include "base/buf.h"
#include "core/value.h"
#include "sql/sql_ast.h"

struct sl_sql_column {
    const char *name;
    const struct sl_sql_type *type;
};

/*
 * Coerce one value (already parsed JSON, as core/value.h holds it: maps for objects, lists for
 * arrays) to type t. NULL stays NULL. Strings/lists made in arena a. 0, or SL_EINVAL with a
 * message in err ("cannot coerce STRING 'abc' to INTEGER").
 */
int sl_sql_coerce(const struct sl_value *v, const struct sl_sql_type *t, struct sl_arena *a,
                  struct sl_value *out, char *err, size_t err_len);

/*
 * Decode a JSON object value (a map) into out[0..ncols) by the schema. A non-map `v` that is
 * NULL makes every column NULL and returns 1 (a NULL record value: the caller decides); a
 * non-map scalar with exactly one column is coerced into that column (ksqlDB's unwrapped
 * single values); else SL_EINVAL. 0 on success, or SL_EINVAL with err naming the column.
 */
int sl_sql_decode_row(const struct sl_value *v, const struct sl_sql_column *cols, uint32_t ncols,
                      struct sl_arena *a, struct sl_value *out, char *err, size_t err_len);

/* Append {"COL":value,...} for the columns (NULL values written as null). */
int sl_sql_encode_row(const struct sl_sql_column *cols, const struct sl_value *vals, uint32_t ncols,
                      struct sl_buf *out);
/* Append one value as JSON (strings escaped, doubles in the shortest round-trip form). */
int sl_sql_encode_value(const struct sl_value *v, struct sl_buf *out);

#endif
